"""What a domain keeps about an account, as the account's owner and its deletion meet it.

Each domain that stores something of a person's describes it once, as an `AccountData` in its
own `account_data.py`: the part of the data export it fills, and what must happen before the
account's rows go (the database cascades the rows; files in storage need a job). The list of
them is explicit (`empulse/account_data.py`) and reaches `users/` through the services, so a
new domain plugs into export and deletion without `users/` importing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.models import User

# (session, services, account) -> the part's value, of type `schema`.
Exporter = Callable[[AsyncSession, Any, User], Awaitable[Any]]
# (session, services, account), in the deletion's transaction, before the account's rows go.
Forgetter = Callable[[AsyncSession, Any, User], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class AccountData:
    key: str
    """Its field in the export (snake_case; camelCase on the wire)."""
    schema: Any
    """The field's type, for the export's schema: a model, `list[Model]` or `Model | None`."""
    description: str
    export: Exporter
    before_deletion: Forgetter | None = None
