"""What a signed-in device is, from its `User-Agent`, for the list of sessions.

ua-parser (the maintained port of the uap-core patterns that browsers' and analytics' parsers
share) names browsers, operating systems and the common HTTP clients; a product it does not
know is named by its first product token (`EmPulseDesktop/2.1` -> "EmPulseDesktop").
"""

from __future__ import annotations

from functools import lru_cache

from ua_parser import parse

# Longer agents add nothing a person would read, and the patterns' cost grows with the length.
_MAX_AGENT = 512
# HTTP libraries that native apps send requests with: a person knows the app, not the library.
_NATIVE_APPS = {"okhttp": "Android app", "Dalvik": "Android app", "CFNetwork": "Apple app"}


@lru_cache(maxsize=1024)
def describe_device(user_agent: str | None) -> str:
    """A person's name for the device: "Chrome 131 on Windows", "curl 8", "Android app"."""
    if not user_agent or not user_agent.strip():
        return "Unknown device"
    # The patterns are compiled on the first call (~0.2 s); later calls take about a millisecond.
    parsed = parse(user_agent[:_MAX_AGENT])
    agent = parsed.user_agent
    if agent is None or agent.family == "Other":
        name = user_agent.strip().split("/", 1)[0].split(" ", 1)[0][:40] or "Unknown app"
    elif agent.family in _NATIVE_APPS:
        name = _NATIVE_APPS[agent.family]
    else:
        name = f"{agent.family} {agent.major}" if agent.major else agent.family
    system = parsed.os
    if system is not None and system.family not in ("", "Other"):
        return f"{name} on {system.family}"
    return name
