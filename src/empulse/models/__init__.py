"""Every ORM table. Importing this package registers them all on `Base.metadata`."""

from empulse.models.user import User, UserRole

__all__ = ["User", "UserRole"]
