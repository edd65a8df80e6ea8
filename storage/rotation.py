"""Re-sealing stored tokens: key rotation (`python -m bot keys rotate`) and migrations that change
what a column holds. Sync functions on a Connection: the CLI runs each batch in a transaction of
its own (`run_sync`), a migration runs them inside its one transaction.

Safe beside the running bot: each row is rewritten by an UPDATE conditional on the token it
read, so a value the bot wrote meanwhile is never overwritten (and it was written under the
first key already). A token no configured key reads is counted and skipped, not fatal; a token
already under the first key is left alone, so re-running after a kill finishes the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Connection, column, select, table, update

from storage import crypto

log = logging.getLogger(__name__)

BATCH = 500
# The content of a token (None, or bytes) -> what to store instead.
Transform = Callable[[bytes | None], bytes | None]


@dataclass
class Tally:
    rotated: int = 0
    current: int = 0  # already under the first key: nothing to do
    raced: int = 0  # changed by the bot between our read and our write: its value stands
    unreadable: list[str] = field(default_factory=list)  # "table.column#key", never the value

    def add(self, other: Tally) -> None:
        self.rotated += other.rotated
        self.current += other.current
        self.raced += other.raced
        self.unreadable += other.unreadable


def reseal_batch(
    connection: Connection,
    table_name: str,
    key: str,
    name: str,
    size: int,
    after: object | None = None,
    *,
    transform: Transform | None = None,
    force: bool = False,
    limit: int = BATCH,
) -> tuple[Tally, object | None]:
    """Re-seal up to `limit` values of `table_name.name` whose key is above `after`; returns the
    tally and the last key seen (None when the column is done). `force` re-seals tokens that are
    current too (a migration changing the padded size or the content)."""
    cipher, tally = crypto.active(), Tally()
    target = table(table_name, column(key), column(name))
    pk, value = target.c[key], target.c[name]
    query = select(pk, value).order_by(pk).limit(limit)
    if after is not None:
        query = query.where(pk > after)
    rows = connection.execute(query).all()
    for row_key, token in rows:
        where = f"{table_name}.{name}#{row_key}"
        if token is not None and not force and transform is None and cipher.is_current(token):
            tally.current += 1
            continue
        try:
            content = None if token is None else cipher.open(token)  # a NULL becomes a sealed None
        except crypto.UnreadableToken:
            tally.unreadable.append(where)
            log.warning("unreadable token at %s: skipped", where)
            continue
        if transform is not None:
            content = transform(content)
        unchanged = value.is_(None) if token is None else value == token
        changed = connection.execute(
            update(target).where(pk == row_key, unchanged).values({name: cipher.seal(content, size)})
        )
        if changed.rowcount:
            tally.rotated += 1
        else:
            tally.raced += 1
    return tally, (rows[-1][0] if len(rows) == limit else None)


def reseal_all(connection: Connection, table_name: str, key: str, name: str, size: int, **options) -> Tally:
    """Every value of one column, in this connection's transaction (for migrations)."""
    total, after = Tally(), None
    while True:
        tally, after = reseal_batch(connection, table_name, key, name, size, after, **options)
        total.add(tally)
        if after is None:
            return total
