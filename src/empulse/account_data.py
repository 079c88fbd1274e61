"""Every domain's part of an account, in one list: what the data export shows and what an
account's deletion takes with it (accounts/data). A domain that stores a person's data adds
its part here."""

from __future__ import annotations

from empulse.artists.account_data import ARTIST_APPLICATIONS, ARTIST_PROFILE
from empulse.library.account_data import LIBRARY
from empulse.playlists.account_data import PLAYLISTS
from empulse.plays.account_data import PLAYS
from empulse.submissions.account_data import SUBMISSIONS
from empulse.subsonic.account_data import SUBSONIC

ACCOUNT_DATA = (
    ARTIST_PROFILE,
    ARTIST_APPLICATIONS,
    SUBMISSIONS,
    LIBRARY,
    PLAYLISTS,
    PLAYS,
    SUBSONIC,
)
