"""Files and folders that hold people's data are created owner-only, whatever the process umask:
the SQLite database (SQLite gives its -wal and -shm files the database file's mode) and the data
folder with local keys. Existing ones are left as they are."""

from __future__ import annotations

import os
from pathlib import Path


def private_dir(path: Path) -> None:
    """`path` as a folder, made with mode 0700 (its missing parents as usual) unless it exists."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return
    os.chmod(path, 0o700)  # mkdir's mode went through the umask, which may have taken the owner's bits too


def private_file(path: Path) -> None:
    """`path` as an empty file with mode 0600 unless it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.fchmod(fd, 0o600)  # as above: the umask applied to os.open's mode
    finally:
        os.close(fd)
