"""The submission's JSON `payload` part, with the seed's names, and what is shown back."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from empulse.core.schemas import ONE_LINE, JsonDict, Schema, with_examples

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), ONE_LINE
]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), ONE_LINE
]
_ISRC = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")
EP_TRACKS = (2, 6)
LP_TRACKS = (7, 30)


def _isrc(value: Any) -> Any:
    """ISO 3901: CC-XXX-YY-NNNNN; dashes and spaces are accepted and removed."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return value
    compact = re.sub(r"[\s-]", "", value).upper()
    if not _ISRC.match(compact):
        raise ValueError("not an ISRC; expected CC-XXX-YY-NNNNN, e.g. US-S1Z-99-00001")
    return compact


Isrc = Annotated[str | None, BeforeValidator(_isrc)]


def _credit(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class Credit(Schema):
    name: Name
    role: Tag | None = None
    share: float | None = Field(default=None, ge=0, le=100, description="Percent.")
    ipi: str | None = Field(default=None, pattern=r"^\d{9,11}$")


Credits = list[Annotated[Credit, BeforeValidator(_credit)]]


class Metadata(Schema):
    track_name: Name | None = None
    album_name: Name | None = None
    genre: Tag
    subgenre: Tag | None = None
    isrc: Isrc = None
    release_date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    explicit: bool = False
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    description: str | None = Field(default=None, max_length=2000)


class TrackIn(Schema):
    title: Name
    isrc: Isrc = None
    explicit: bool = False
    composers: Credits = Field(default_factory=list, max_length=20)
    lyricists: Credits = Field(default_factory=list, max_length=20)


class MoodTags(Schema):
    mood: Tag
    secondary_moods: list[Tag] = Field(default_factory=list, max_length=5)
    energy: Tag | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class LegalWarranties(Schema):
    """All five must be affirmed (true)."""

    owns_master_rights: bool
    is_original_composition: bool
    samples_cleared: bool
    has_mechanical_licenses: bool
    agrees_to_indemnify: bool

    @model_validator(mode="after")
    def _all_true(self) -> LegalWarranties:
        missing = [name for name, value in self.model_dump(by_alias=True).items() if not value]
        if missing:
            raise ValueError(f"each warranty must be affirmed: {', '.join(missing)}")
        return self


# Every warranty affirmed, as a client sends them: the only accepted value.
WARRANTIES_GIVEN: JsonDict = {to_camel(name): True for name in LegalWarranties.model_fields}

PAYLOAD_EXAMPLE: JsonDict = {
    "releaseType": "ep",
    "metadata": {"albumName": "Lanterns EP", "genre": "Electronic", "subgenre": "Ambient"},
    "tracks": [{"title": "Night Drive"}, {"title": "Harbour Lights"}],
    "artistMoodTags": {"mood": "dreamy", "energy": "medium"},
    "composers": ["Ada Lovelace"],
    "lyricists": [{"name": "Ada Lovelace", "share": 100}],
    "publishers": [],
    "rightsMetadata": {"copyrightOwner": "Ada Lovelace", "copyrightYear": "2026"},
    "legalWarranties": WARRANTIES_GIVEN,
}


class SubmissionPayload(Schema):
    model_config = with_examples(PAYLOAD_EXAMPLE)

    release_type: Literal["single", "ep", "lp"]
    metadata: Metadata
    tracks: list[TrackIn] = Field(
        default_factory=list, max_length=LP_TRACKS[1], validate_default=True
    )
    artist_mood_tags: MoodTags
    composers: Credits = Field(default_factory=list, max_length=20)
    lyricists: Credits = Field(default_factory=list, max_length=20)
    publishers: Credits = Field(default_factory=list, max_length=20)
    rights_metadata: dict[Tag, Annotated[str, Field(max_length=200)]] = Field(
        default_factory=dict, max_length=20
    )
    legal_warranties: LegalWarranties
    checksums: dict[str, str] = Field(
        default_factory=dict,
        max_length=40,
        description="Optional SHA-256 (hex) of each file part, by part name; a mismatch is 422.",
    )

    @field_validator("checksums")
    @classmethod
    def _hex(cls, value: dict[str, str]) -> dict[str, str]:
        for part, digest in value.items():
            if not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
                raise ValueError(f"{part}: a SHA-256 is 64 hex characters")
        return {part: digest.lower() for part, digest in value.items()}

    # The release type decides the rest of the shape. Each rule is checked on its own field
    # (fields are validated in order, after `releaseType`), so its error names that field.
    @field_validator("metadata")
    @classmethod
    def _title_for_the_release(cls, metadata: Metadata, info: ValidationInfo) -> Metadata:
        release_type = info.data.get("release_type")
        if release_type == "single" and not metadata.track_name:
            raise ValueError("trackName is required for a single")
        if release_type in {"ep", "lp"} and not metadata.album_name:
            raise ValueError("albumName is required for an EP or LP")
        return metadata

    @field_validator("tracks")
    @classmethod
    def _track_count(cls, tracks: list[TrackIn], info: ValidationInfo) -> list[TrackIn]:
        release_type = info.data.get("release_type")
        if release_type == "single" and tracks:
            raise ValueError("a single has no track list; send its file as audioFile")
        if release_type in {"ep", "lp"}:
            low, high = EP_TRACKS if release_type == "ep" else LP_TRACKS
            if not low <= len(tracks) <= high:
                raise ValueError(f"an {release_type.upper()} has {low} to {high} tracks")
        return tracks

    @property
    def title(self) -> str:
        title = self.metadata.track_name if self.release_type == "single" else None
        return title or self.metadata.album_name or ""

    def audio_parts(self) -> list[str]:
        if self.release_type == "single":
            return ["audioFile"]
        return [f"track_{index}_file" for index in range(len(self.tracks))]


class FileOut(Schema):
    part: str
    role: str
    track_index: int | None
    content_type: str
    size_bytes: int
    sha256: str
    filename: str | None
    details: dict[str, Any]
    url: str | None = Field(default=None, description="Signed, short-lived download URL.")
    pipeline: dict[str, Any] | None = Field(
        default=None,
        description="An uploaded track's media pipeline: `status` (queued, running, done, "
        "failed), `step`, `progress` (0-1), `reason` (of a failure), `loudness` and `quality` "
        "(the report found at ingest), `waveform` (up to 200 [min, max] pairs, normalised to "
        "the loudest peak). Its renditions are files of role `rendition`.",
    )


class SubmissionOut(Schema):
    id: uuid.UUID
    submission_id: str = Field(description="Human-readable id, `TRK-…`.")
    status: str
    release_type: str
    title: str
    genre: str
    tracks: list[str]
    files: list[FileOut]
    created_at: datetime
    reviewed_at: datetime | None
    review_reason: str | None


class ExportedSubmission(SubmissionOut):
    payload: dict[str, Any] = Field(description="The release's details as they were submitted.")
