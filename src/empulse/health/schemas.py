from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Schema(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Liveness(Schema):
    status: Literal["ok"] = "ok"
    version: str


class DependencyCheck(Schema):
    ok: bool
    latency_ms: float
    error: str | None = None


class Readiness(Schema):
    status: Literal["ready", "not_ready", "draining"]
    checks: dict[str, DependencyCheck]


class ConfigCheckOut(Schema):
    name: str
    status: Literal["ok", "warning", "error"]
    detail: str


class StartupCheck(Schema):
    mode: Literal["development", "test", "production"]
    ok: bool
    checks: list[ConfigCheckOut]
