"""Every kind of background job, every hourly clean-up, every upkeep run each few seconds and
every pass over a whole table, in one list: what the job runners (in the API process, or
`empulse worker`) run. A new kind is added here."""

from __future__ import annotations

from empulse.audit.tasks import remove_old_events
from empulse.auth.tasks import remove_ended_sessions, remove_spent_links
from empulse.infra.email import SEND_EMAIL, send_email
from empulse.infra.jobs import JobKinds, Pass
from empulse.media.service import MEDIA_PIPELINE
from empulse.media.service import run as run_media_pipeline
from empulse.media.tasks import requeue_stalled, sweep_work
from empulse.plays.tasks import POPULARITY_EVERY, count_plays, refresh_popularity
from empulse.search.tasks import refresh_statistics
from empulse.submissions.upload import (
    DELETE_OBJECTS,
    SWEEP_UPLOADS,
    delete_objects,
    sweep_incomplete_writes,
    sweep_uploads,
)

JOB_KINDS = JobKinds(
    handlers={
        SEND_EMAIL: send_email,
        SWEEP_UPLOADS: sweep_uploads,
        DELETE_OBJECTS: delete_objects,
        MEDIA_PIPELINE: run_media_pipeline,
    },
    housekeepers={
        "auth_sessions": remove_ended_sessions,
        "action_tokens": remove_spent_links,
        "audit_events": remove_old_events,
        "media_pipelines": requeue_stalled,
        "media_work_folders": sweep_work,
        "incomplete_writes": sweep_incomplete_writes,
        "sqlite_statistics": refresh_statistics,
    },
    frequent={"play_counts": count_plays},
    passes={"popularity": Pass(refresh_popularity, every=POPULARITY_EVERY)},
)
