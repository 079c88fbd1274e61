"""Prometheus metrics: request counts and latency by route template, rate-limit rejections,
security events, password hashing.

Labels use the route template (`/api/v1/tracks/{track_id}`), never the raw path, so the number
of series stays bounded. With several worker processes, `PROMETHEUS_MULTIPROC_DIR` makes every
process write its samples to shared files that `/metrics` aggregates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "empulse_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "empulse_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RATE_LIMIT_REJECTIONS = Counter(
    "empulse_rate_limit_rejections_total",
    "Requests refused with 429, by limit name and key kind.",
    ["limit", "key"],
)
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "empulse_rate_limit_backend_errors_total",
    "Rate-limit checks whose shared store (Redis) failed.",
)

SECURITY_EVENTS = Counter(
    "empulse_security_events_total",
    "Security events written to the audit log (login_failed, account_locked, "
    "refresh_reuse_detected, ...), by event.",
    ["event"],
)
PASSWORD_HASHING = Histogram(
    "empulse_password_hash_seconds",
    "Time to hash or verify one password (argon2id), by operation: `verify` runs once for every "
    "sign-in attempt, known account or not; a rising latency here is the first sign of CPU "
    "shortage under a login storm.",
    ["operation"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
AUTH_REJECTIONS = Counter(
    "empulse_auth_rejections_total",
    "Requests refused for their credentials: invalid or expired access token, ended session, "
    "CSRF failure.",
    ["reason"],
)

PAGE_CACHE_LOOKUPS = Counter(
    "empulse_page_cache_lookups_total",
    "Lookups in the process's page cache (infra/page_cache.py), by result: `hit`, or `miss` "
    "(never kept, pushed out, or kept for an older catalog version).",
    ["result"],
)
PAGE_CACHE_HIT = PAGE_CACHE_LOOKUPS.labels("hit")
PAGE_CACHE_MISS = PAGE_CACHE_LOOKUPS.labels("miss")


@dataclass(frozen=True, slots=True)
class Upkeep:
    """A periodic upkeep of the job runners (the `schedules` table)."""

    name: str
    overdue_seconds: float  # how long past its due time (0 when not due yet)
    handled: int | None  # rows its last run handled; None before a run finished


@dataclass(frozen=True, slots=True)
class JobQueue:
    counts: dict[str, int]
    oldest_due_seconds: float
    upkeep: list[Upkeep]


def job_queue_text(queue: JobQueue) -> bytes:
    """The job queue as the database holds it at scrape time (shared by every process, so it
    is read, not counted): jobs by status, how late the oldest due pending job is, and how late
    each periodic upkeep is (a pass overdue by minutes means no runner is making it: play
    counts and the popularity orders stand still) with the rows its last run handled."""
    lines = [
        "# HELP empulse_jobs Background jobs by status.",
        "# TYPE empulse_jobs gauge",
        *(
            f'empulse_jobs{{status="{status}"}} {queue.counts.get(status, 0)}'
            for status in JOB_STATUSES
        ),
        "# HELP empulse_jobs_oldest_due_seconds How long the oldest due pending job has waited.",
        "# TYPE empulse_jobs_oldest_due_seconds gauge",
        f"empulse_jobs_oldest_due_seconds {queue.oldest_due_seconds:.3f}",
        "# HELP empulse_upkeep_overdue_seconds How long a periodic upkeep is past its due time.",
        "# TYPE empulse_upkeep_overdue_seconds gauge",
        *(
            f'empulse_upkeep_overdue_seconds{{upkeep="{upkeep.name}"}} {upkeep.overdue_seconds:.3f}'
            for upkeep in queue.upkeep
        ),
        "# HELP empulse_upkeep_handled Rows the last run of a periodic upkeep handled.",
        "# TYPE empulse_upkeep_handled gauge",
        *(
            f'empulse_upkeep_handled{{upkeep="{upkeep.name}"}} {upkeep.handled}'
            for upkeep in queue.upkeep
            if upkeep.handled is not None
        ),
    ]
    return ("\n".join(lines) + "\n").encode()


# `done` jobs are history, not queue; counting them would scan a table that only grows.
JOB_STATUSES = ("pending", "running", "dead")


_request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    # labels() parses and hashes its arguments on every call; the children are cached per
    # (method, route template, status), a small bounded set, since this runs on every request.
    key = (method, route, status)
    children = _request_children.get(key)
    if children is None:
        children = (REQUESTS.labels(method, route, str(status)), LATENCY.labels(method, route))
        _request_children[key] = children
    children[0].inc()
    children[1].observe(seconds)


def render() -> tuple[bytes, str]:
    """The exposition text for this process, or for all workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
