"""One Settings object, read from the environment and an optional `.env`.

With nothing set, every part runs embedded: SQLite and local files under `EMPULSE_DATA_DIR`,
in-process rate limits, mail written to an outbox folder, secrets generated once into the data
dir. Each production service is switched on by its own variable. `check_settings` says whether a
configuration is complete and safe for its mode; production refuses to start when it is not.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The seed's numbers (PRODUCT.md, "Bad input gets a clear error"), in `limits` notation.
DEFAULT_RATE_LIMITS: dict[str, str] = {
    "default": "100/minute",
    "login": "5/minute",
    "register": "3/hour",
    "password_reset": "5/hour",
    "submissions": "10/day",
    "applications": "5/day",
    # Per listener and per address: a player reads a track in several ranges and seeks.
    "streams": "300/minute",
    # Subsonic player apps sync in bursts of hundreds of calls (per account and per address).
    "subsonic": "1200/minute",
    # Subsonic credential checks that go to the database: a player's first call, wrong passwords.
    "subsonic_auth": "30/minute",
}

# Values that appear in templates and tutorials; a secret equal to (or built from) one of them is
# public knowledge.
_PLACEHOLDER_WORDS = (
    "changeme",
    "change-me",
    "change_me",
    "replace",
    "placeholder",
    "example",
    "secret",
    "password",
    "your-",
    "your_",
    "todo",
    "xxxx",
    "dummy",
    "default",
    "test",
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


def _split_csv(value: Any) -> Any:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            return json.loads(stripped)
        return [part.strip() for part in stripped.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
    )

    env: Environment = Field(Environment.DEVELOPMENT, validation_alias=_env("EMPULSE_ENV"))
    data_dir: Path = Field(Path("var"), validation_alias=_env("EMPULSE_DATA_DIR"))
    log_level: str = Field("INFO", validation_alias=_env("EMPULSE_LOG_LEVEL", "LOG_LEVEL"))

    # Database
    database_url_raw: str | None = Field(None, validation_alias=_env("DATABASE_URL"))
    database_pool_size: int = Field(10, ge=1, validation_alias=_env("DATABASE_POOL_SIZE"))
    database_max_overflow: int = Field(0, ge=0, validation_alias=_env("DATABASE_MAX_OVERFLOW"))
    database_pool_timeout: float = Field(5.0, gt=0, validation_alias=_env("DATABASE_POOL_TIMEOUT"))
    database_connect_timeout: float = Field(
        5.0, gt=0, validation_alias=_env("DATABASE_CONNECT_TIMEOUT")
    )
    database_statement_timeout_ms: int = Field(
        10_000, ge=100, validation_alias=_env("DATABASE_STATEMENT_TIMEOUT_MS")
    )

    # Cache and rate limits
    redis_url: str | None = Field(None, validation_alias=_env("REDIS_URL"))
    redis_key_prefix: str = Field("empulse", validation_alias=_env("REDIS_KEY_PREFIX"))
    redis_timeout: float = Field(0.5, gt=0, validation_alias=_env("REDIS_TIMEOUT"))
    rate_limits_enabled: bool = Field(True, validation_alias=_env("RATE_LIMITS_ENABLED"))
    rate_limit_overrides: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, validation_alias=_env("RATE_LIMITS")
    )

    # Secrets
    jwt_secret: SecretStr | None = Field(None, validation_alias=_env("JWT_SECRET"))
    encryption_key: SecretStr | None = Field(None, validation_alias=_env("ENCRYPTION_KEY"))
    # Keys being rotated out: still decrypt, never encrypt (see `empulse keys rotate`).
    encryption_keys_previous: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, validation_alias=_env("ENCRYPTION_KEYS_PREVIOUS")
    )

    # Sessions
    access_token_minutes: int = Field(
        15, ge=1, le=15, validation_alias=_env("ACCESS_TOKEN_MINUTES")
    )
    refresh_token_days: int = Field(30, ge=1, le=90, validation_alias=_env("REFRESH_TOKEN_DAYS"))
    session_cache_seconds: float = Field(
        30.0, ge=0, le=300, validation_alias=_env("SESSION_CACHE_SECONDS")
    )

    # Background jobs
    jobs_in_process: bool = Field(True, validation_alias=_env("EMPULSE_JOBS_IN_PROCESS"))
    jobs_poll_seconds: float = Field(1.0, gt=0, validation_alias=_env("EMPULSE_JOBS_POLL_SECONDS"))
    jobs_backoff_seconds: float = Field(
        2.0, gt=0, validation_alias=_env("EMPULSE_JOBS_BACKOFF_SECONDS")
    )
    # Finished jobs are history (their payloads are already wiped); dead ones stay for admins.
    jobs_keep_done_days: float = Field(
        7.0, ge=0, validation_alias=_env("EMPULSE_JOBS_KEEP_DONE_DAYS")
    )
    # How long security events are kept is the operator's policy; 0 keeps them for ever.
    audit_keep_days: float = Field(0.0, ge=0, validation_alias=_env("AUDIT_KEEP_DAYS"))

    # Rendered public pages (catalog, search) kept per process, exact by the catalog's version
    # (web/caching.PageCache); 0 turns the cache off.
    page_cache_mb: int = Field(32, ge=0, le=4096, validation_alias=_env("EMPULSE_PAGE_CACHE_MB"))

    # HTTP
    app_url: str = Field(
        "http://localhost:3000", validation_alias=_env("APP_URL", "NEXT_PUBLIC_APP_URL")
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias=_env("ALLOWED_ORIGINS")
    )
    trusted_proxies: Annotated[list[IPNetwork], NoDecode] = Field(
        default_factory=list, validation_alias=_env("TRUSTED_PROXIES")
    )
    max_json_body_bytes: int = Field(1_048_576, ge=1024, validation_alias=_env("MAX_BODY_BYTES"))
    # Uploads (PRODUCT.md "Uploads and ingest")
    max_audio_bytes: int = Field(
        50 * 1024 * 1024, ge=1024, validation_alias=_env("MAX_AUDIO_BYTES")
    )
    max_cover_bytes: int = Field(5 * 1024 * 1024, ge=1024, validation_alias=_env("MAX_COVER_BYTES"))
    upload_sweep_after_seconds: float = Field(
        3600.0, ge=0, validation_alias=_env("UPLOAD_SWEEP_AFTER_SECONDS")
    )
    drain_seconds: float = Field(0.0, ge=0, validation_alias=_env("EMPULSE_DRAIN_SECONDS"))
    # The HTTP edge, enforced by the server itself (docs/operations.md "Reverse proxy"): the
    # request head's size (431 past it) and the time to send it, and the slowest body accepted
    # (408 below it, after a grace period; Kestrel's MinRequestBodyDataRate, 240 B/s after 5 s,
    # is the model).
    http_max_head_bytes: int = Field(
        65_536, ge=8_192, validation_alias=_env("HTTP_MAX_HEADER_BYTES")
    )
    http_head_timeout_seconds: float = Field(
        10.0, gt=0, le=60, validation_alias=_env("HTTP_HEADER_TIMEOUT_SECONDS")
    )
    http_body_min_rate: int = Field(1024, ge=1, validation_alias=_env("HTTP_BODY_MIN_RATE"))
    http_body_grace_seconds: float = Field(
        10.0, gt=0, validation_alias=_env("HTTP_BODY_GRACE_SECONDS")
    )

    # Object storage (S3-compatible); the seed's AWS_* and R2_* names are accepted too.
    s3_bucket: str | None = Field(
        None, validation_alias=_env("S3_BUCKET", "AWS_S3_BUCKET", "R2_BUCKET_NAME")
    )
    s3_endpoint_url: str | None = Field(
        None, validation_alias=_env("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL", "R2_ENDPOINT")
    )
    s3_region: str | None = Field(None, validation_alias=_env("S3_REGION", "AWS_REGION"))
    s3_access_key_id: str | None = Field(
        None, validation_alias=_env("S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID", "R2_ACCESS_KEY_ID")
    )
    s3_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias=_env(
            "S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "R2_SECRET_ACCESS_KEY"
        ),
    )
    s3_public_url: str | None = Field(None, validation_alias=_env("S3_PUBLIC_URL", "R2_PUBLIC_URL"))
    r2_account_id: str | None = Field(None, validation_alias=_env("R2_ACCOUNT_ID"))
    # Streams from S3 pass through the service (every player app can play them, ranges
    # included); true answers a 302 to a presigned URL instead, for a store that serves
    # listeners better than the service (a CDN in front of it).
    stream_s3_redirect: bool = Field(False, validation_alias=_env("STREAM_S3_REDIRECT"))

    # Email: SMTP when SMTP_HOST (or RESEND_API_KEY) is set, the local outbox otherwise.
    smtp_host: str | None = Field(None, validation_alias=_env("SMTP_HOST"))
    smtp_port: int | None = Field(None, validation_alias=_env("SMTP_PORT"))
    smtp_username: str | None = Field(None, validation_alias=_env("SMTP_USERNAME", "SMTP_USER"))
    smtp_password: SecretStr | None = Field(None, validation_alias=_env("SMTP_PASSWORD"))
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", validation_alias=_env("SMTP_SECURITY")
    )
    resend_api_key: SecretStr | None = Field(None, validation_alias=_env("RESEND_API_KEY"))
    email_from: str = Field(
        "EmPulse <no-reply@empulse.localhost>", validation_alias=_env("EMAIL_FROM")
    )

    @field_validator(
        "database_url_raw",
        "redis_url",
        "jwt_secret",
        "encryption_key",
        "s3_bucket",
        "s3_endpoint_url",
        "s3_region",
        "s3_access_key_id",
        "s3_secret_access_key",
        "s3_public_url",
        "r2_account_id",
        "smtp_host",
        "smtp_port",
        "smtp_username",
        "smtp_password",
        "resend_api_key",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `FOO=` in a .env file or a deployment template means "not set", not "empty secret".
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: Any) -> Any:
        parsed = _split_csv(value)
        if isinstance(parsed, list):
            return [str(origin).rstrip("/") for origin in parsed]
        return parsed

    @field_validator("encryption_keys_previous", mode="before")
    @classmethod
    def _parse_previous_keys(cls, value: Any) -> Any:
        return _split_csv(value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _parse_proxies(cls, value: Any) -> Any:
        parsed = _split_csv(value)
        if isinstance(parsed, list):
            return [ipaddress.ip_network(str(item), strict=False) for item in parsed]
        return parsed

    @field_validator("rate_limit_overrides", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value.startswith("{"):
                return json.loads(value)
            # "login=10/minute,default=1000/minute"
            pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
            return {name.strip(): limit.strip() for name, limit in pairs}
        return value

    @field_validator("app_url")
    @classmethod
    def _strip_app_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("APP_URL must be an absolute http(s) URL")
        return value.rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @cached_property
    def database_url(self) -> str:
        """The SQLAlchemy URL, with the async driver chosen for the given scheme."""
        raw = self.database_url_raw
        if not raw:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'empulse.db').resolve()}"
        for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
            if raw.startswith(prefix):
                return "postgresql+asyncpg://" + raw[len(prefix) :]
        if raw.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + raw[len("sqlite:///") :]
        return raw

    @property
    def database_is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def s3_endpoint(self) -> str | None:
        if self.s3_endpoint_url:
            return self.s3_endpoint_url
        if self.r2_account_id:
            return f"https://{self.r2_account_id}.r2.cloudflarestorage.com"
        return None

    @property
    def uses_s3(self) -> bool:
        return bool(self.s3_bucket)

    @property
    def rate_limits(self) -> dict[str, str]:
        return {**DEFAULT_RATE_LIMITS, **self.rate_limit_overrides}

    @property
    def smtp(self) -> SmtpSettings | None:
        """Where mail goes over SMTP; None means the local outbox."""
        if self.smtp_host:
            default_port = {"tls": 465, "starttls": 587, "none": 25}[self.smtp_security]
            return SmtpSettings(
                host=self.smtp_host,
                port=self.smtp_port or default_port,
                username=self.smtp_username,
                password=self.smtp_password.get_secret_value() if self.smtp_password else None,
                security=self.smtp_security,
            )
        if self.resend_api_key:
            # Resend's SMTP relay: user "resend", the API key as password, implicit TLS.
            return SmtpSettings(
                host="smtp.resend.com",
                port=465,
                username="resend",
                password=self.resend_api_key.get_secret_value(),
                security="tls",
            )
        return None

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "files"

    def redacted_database_url(self) -> str:
        """The database URL without its password, for logs and check output."""
        return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", self.database_url)


def load_settings(**overrides: Any) -> Settings:
    """Read the environment and fill in generated secrets outside production."""
    settings = Settings(**overrides)
    return with_local_secrets(settings)


SECRETS_FILE = "secrets.json"


def with_local_secrets(settings: Settings) -> Settings:
    """Outside production, a missing secret is generated once into the data dir and reused.

    Production never generates one: a secret that changes on every deploy would log everybody
    out and make encrypted data unreadable; `check_settings` reports it instead.
    """
    if settings.is_production or (settings.jwt_secret and settings.encryption_key):
        return settings
    path = settings.data_dir / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    if "jwt_secret" not in stored:
        # Hex, not base64: a random base64 secret contains one of the placeholder words the
        # start-up check refuses ("test", "todo", ...) about once in 4,000 draws, and then the
        # service called its own secret unsafe. No such word can be spelt in hex digits.
        stored["jwt_secret"] = secrets.token_hex(48)
        changed = True
    if "encryption_key" not in stored:
        stored["encryption_key"] = secrets.token_hex(32)
        changed = True
    if changed:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(stored, handle)
        os.replace(tmp, path)
    update: dict[str, Any] = {}
    if not settings.jwt_secret:
        update["jwt_secret"] = SecretStr(stored["jwt_secret"])
    if not settings.encryption_key:
        update["encryption_key"] = SecretStr(stored["encryption_key"])
    return settings.model_copy(update=update)


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    security: Literal["starttls", "tls", "none"]

    def __repr__(self) -> str:
        return f"SmtpSettings(host={self.host!r}, port={self.port}, security={self.security!r})"


class Severity(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ConfigCheck:
    name: str
    severity: Severity
    detail: str


def _looks_like_placeholder(value: str) -> bool:
    lowered = value.lower()
    if len(set(lowered)) <= 2:
        return True
    return any(word in lowered for word in _PLACEHOLDER_WORDS)


def _check_jwt_secret(settings: Settings) -> ConfigCheck:
    name = "JWT_SECRET"
    if settings.jwt_secret is None:
        return ConfigCheck(name, Severity.ERROR, "missing")
    value = settings.jwt_secret.get_secret_value()
    # HS256 needs a key of at least 256 bits (RFC 7518 section 3.2).
    if len(value.encode()) < 32:
        return ConfigCheck(name, Severity.ERROR, "shorter than 32 bytes (256 bits)")
    if _looks_like_placeholder(value):
        return ConfigCheck(name, Severity.ERROR, "a known placeholder value")
    return ConfigCheck(name, Severity.OK, "set")


def _check_encryption_key(settings: Settings) -> ConfigCheck:
    name = "ENCRYPTION_KEY"
    if settings.encryption_key is None:
        return ConfigCheck(name, Severity.ERROR, "missing")
    value = settings.encryption_key.get_secret_value()
    if not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return ConfigCheck(name, Severity.ERROR, "must be 64 hex characters (256 bits)")
    if len(set(value.lower())) <= 4 or value.lower() in ("0123456789abcdef" * 4,):
        return ConfigCheck(name, Severity.ERROR, "a known placeholder value")
    return ConfigCheck(name, Severity.OK, "set")


def _check_previous_keys(settings: Settings) -> ConfigCheck:
    name = "ENCRYPTION_KEYS_PREVIOUS"
    keys = [key.get_secret_value() for key in settings.encryption_keys_previous]
    if any(not re.fullmatch(r"[0-9a-fA-F]{64}", key) for key in keys):
        return ConfigCheck(name, Severity.ERROR, "each key must be 64 hex characters")
    return ConfigCheck(name, Severity.OK, f"{len(keys)} older key(s) for decryption")


def _check_origins(settings: Settings) -> ConfigCheck:
    name = "ALLOWED_ORIGINS"
    for origin in settings.allowed_origins:
        if origin == "*":
            return ConfigCheck(name, Severity.ERROR, "'*' is not allowed with credentials")
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
            return ConfigCheck(name, Severity.ERROR, f"not an origin: {origin!r}")
        if settings.is_production and parts.scheme != "https":
            return ConfigCheck(name, Severity.ERROR, f"must use https in production: {origin!r}")
    if not settings.allowed_origins:
        return ConfigCheck(name, Severity.OK, "none: browsers on other origins are refused")
    return ConfigCheck(name, Severity.OK, f"{len(settings.allowed_origins)} origin(s)")


def _check_app_url(settings: Settings) -> ConfigCheck:
    if settings.is_production and not settings.app_url.startswith("https://"):
        return ConfigCheck("APP_URL", Severity.ERROR, "must be https in production")
    return ConfigCheck("APP_URL", Severity.OK, "set")


def _embedded_check(
    name: str, production_detail: str, ok_detail: str, embedded: bool, settings: Settings
) -> ConfigCheck:
    if embedded and settings.is_production:
        return ConfigCheck(name, Severity.WARNING, production_detail)
    return ConfigCheck(name, Severity.OK, ok_detail)


def check_settings(settings: Settings) -> list[ConfigCheck]:
    """Each check says whether one part is complete and safe for the mode; never a value."""
    embedded_db = settings.database_is_sqlite
    checks = [
        _check_jwt_secret(settings),
        _check_encryption_key(settings),
        _check_previous_keys(settings),
        _check_app_url(settings),
        _check_origins(settings),
        _embedded_check(
            "DATABASE_URL",
            "SQLite: a single process on a single machine only",
            "SQLite (embedded)" if embedded_db else "PostgreSQL",
            embedded_db,
            settings,
        ),
        _embedded_check(
            "REDIS_URL",
            "unset: rate limits are per process, not global",
            "set" if settings.redis_url else "unset: in-process rate limits",
            settings.redis_url is None,
            settings,
        ),
        _embedded_check(
            "S3_BUCKET",
            "unset: files are kept on this machine's disk",
            "S3-compatible storage" if settings.uses_s3 else "local disk",
            not settings.uses_s3,
            settings,
        ),
        _embedded_check(
            "SMTP_HOST",
            "unset: emails are written to the local outbox, not sent",
            "SMTP" if settings.smtp else "local outbox",
            settings.smtp is None,
            settings,
        ),
    ]
    if settings.trusted_proxies:
        checks.append(
            ConfigCheck(
                "TRUSTED_PROXIES",
                Severity.OK,
                f"{len(settings.trusted_proxies)} network(s)",
            )
        )
    return checks


class UnsafeConfigurationError(RuntimeError):
    """Raised at start-up in production when a check fails; names each failing setting."""

    def __init__(self, failures: list[ConfigCheck]) -> None:
        self.failures = failures
        listed = "; ".join(f"{check.name}: {check.detail}" for check in failures)
        super().__init__(f"refusing to start in production: {listed}")


def ensure_safe(settings: Settings) -> None:
    if not settings.is_production:
        return
    failures = [check for check in check_settings(settings) if check.severity is Severity.ERROR]
    if failures:
        raise UnsafeConfigurationError(failures)
