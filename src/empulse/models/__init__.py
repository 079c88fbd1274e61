"""Every ORM table. Importing this package registers them all on `Base.metadata`."""

from empulse.models.artist import Artist, ArtistApplication, ReviewStatus
from empulse.models.audit_event import AuditEvent
from empulse.models.auth_session import (
    ActionToken,
    AuthSession,
    RefreshToken,
    TokenPurpose,
    Transport,
)
from empulse.models.catalog import Album, CatalogVersion, Track, TrackMood
from empulse.models.job import Job, JobStatus, Schedule
from empulse.models.library import LikedAlbum, LikedArtist, LikedPlaylist, LikedTrack
from empulse.models.media import MediaPipeline
from empulse.models.play import Play, PlayTally
from empulse.models.playlist import (
    Playlist,
    PlaylistCollaborator,
    PlaylistEntry,
    PlaylistInvite,
)
from empulse.models.submission import MediaObject, PendingUpload, Submission
from empulse.models.subsonic import ApiKey, AppPassword, Bookmark, NowPlaying, PlayQueue
from empulse.models.user import DEFAULT_PRIVACY, User, UserRole, privacy_allows

__all__ = [
    "DEFAULT_PRIVACY",
    "ActionToken",
    "Album",
    "ApiKey",
    "AppPassword",
    "Artist",
    "ArtistApplication",
    "AuditEvent",
    "AuthSession",
    "Bookmark",
    "CatalogVersion",
    "Job",
    "JobStatus",
    "LikedAlbum",
    "LikedArtist",
    "LikedPlaylist",
    "LikedTrack",
    "MediaObject",
    "MediaPipeline",
    "NowPlaying",
    "PendingUpload",
    "Play",
    "PlayQueue",
    "PlayTally",
    "Playlist",
    "PlaylistCollaborator",
    "PlaylistEntry",
    "PlaylistInvite",
    "RefreshToken",
    "ReviewStatus",
    "Schedule",
    "Submission",
    "TokenPurpose",
    "Track",
    "TrackMood",
    "Transport",
    "User",
    "UserRole",
    "privacy_allows",
]
