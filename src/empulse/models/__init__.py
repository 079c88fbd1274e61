"""Every ORM table. Importing this package registers them all on `Base.metadata`."""

from empulse.models.audit_event import AuditEvent
from empulse.models.auth_session import ActionToken, AuthSession, RefreshToken
from empulse.models.job import Job
from empulse.models.user import DEFAULT_PRIVACY, User, UserRole

__all__ = [
    "DEFAULT_PRIVACY",
    "ActionToken",
    "AuditEvent",
    "AuthSession",
    "Job",
    "RefreshToken",
    "User",
    "UserRole",
]
