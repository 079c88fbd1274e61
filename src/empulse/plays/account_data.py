"""What plays/ keeps about an account: its play history. A deletion keeps the plays in the
ledger and the counts, without the account (the foreign key sets it NULL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from empulse.accounts.data import AccountData
from empulse.models import User
from empulse.plays import repository
from empulse.plays.schemas import PlayOut
from empulse.plays.service import play_out


async def _plays(session: AsyncSession, _: Any, user: User) -> list[PlayOut]:
    return [play_out(play) for play in await repository.all_of(session, user.id)]


PLAYS = AccountData(
    key="plays",
    schema=list[PlayOut],
    description="Every play the account's players reported, newest first.",
    export=_plays,
)
