"""All tables. Each feature keeps its models in its own module; importing them here
puts every table on `Base.metadata`, which Alembic and the tests compare."""
from storage.models.base import Base
from storage.models.core import AuditEntry, FsmRecord, Invite, User

__all__ = ["AuditEntry", "Base", "FsmRecord", "Invite", "User"]
