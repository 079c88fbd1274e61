"""Every secret the suite handles, so the captured logs can be checked for all of them at the
end of the run (SECURITY.md "Sensitive data": a test greps the logs of the whole suite)."""

from __future__ import annotations

SEEN: set[str] = set()


def remember(*values: str | None) -> None:
    for value in values:
        if value and len(value) >= 8:
            SEEN.add(value)


def leaked_into(text: str) -> list[str]:
    return sorted(secret for secret in SEEN if secret in text)
