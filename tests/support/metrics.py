"""Reading the service's Prometheus exposition in tests."""

from __future__ import annotations


def sample(text: str, series: str) -> float:
    """The value of one exposition line, e.g. `empulse_jobs{status="pending"}`."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in /metrics")
