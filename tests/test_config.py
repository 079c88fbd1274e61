"""Settings: embedded defaults, generated development secrets, production refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from empulse.app import create_app
from empulse.config import Settings, Severity, UnsafeConfigurationError, check_settings
from empulse.config import load_settings as load

STRONG_JWT = "Zq8vN2kLr5Tx1Wm9Hc4Bf7Yd3Gs6Pj0Ae8Ku2Xo5Vn1Ri4"
STRONG_KEY = "9f1c2b7a4e6d8f0a3c5b7e9d1f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "ENCRYPTION_KEY", "EMPULSE_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def production(tmp_path: Path, **values: str) -> Settings:
    base = {
        "EMPULSE_ENV": "production",
        "EMPULSE_DATA_DIR": str(tmp_path),
        "JWT_SECRET": STRONG_JWT,
        "ENCRYPTION_KEY": STRONG_KEY,
        "APP_URL": "https://empulse.example",
        "DATABASE_URL": "postgresql://empulse@db.internal/empulse",
    }
    base.update(values)
    return load(**base)


def test_embedded_defaults_keep_everything_in_the_data_dir(tmp_path: Path) -> None:
    settings = load(EMPULSE_DATA_DIR=str(tmp_path / "data"))
    assert settings.database_url == f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'empulse.db')}"
    assert settings.redis_url is None
    assert not settings.uses_s3
    assert settings.outbox_dir == tmp_path / "data" / "outbox"
    assert settings.rate_limits["login"] == "5/minute"


def test_development_secrets_are_generated_once_and_reused(tmp_path: Path) -> None:
    first = load(EMPULSE_DATA_DIR=str(tmp_path))
    second = load(EMPULSE_DATA_DIR=str(tmp_path))
    assert first.jwt_secret is not None
    assert first.encryption_key is not None
    assert second.jwt_secret is not None
    assert first.jwt_secret.get_secret_value() == second.jwt_secret.get_secret_value()
    assert len(first.jwt_secret.get_secret_value()) >= 64
    assert len(first.encryption_key.get_secret_value()) == 64
    secrets_file = tmp_path / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert set(json.loads(secrets_file.read_text())) == {"jwt_secret", "encryption_key"}


def test_generated_secrets_always_pass_the_start_up_check(tmp_path: Path) -> None:
    """The secrets the service makes for itself are never ones its own check calls unsafe (a
    random base64 secret spelt "test" or "todo" about once in 4,000 draws). They are hex, in
    which no placeholder word can be spelt."""
    for attempt in range(20):
        settings = load(EMPULSE_DATA_DIR=str(tmp_path / str(attempt)))
        assert settings.jwt_secret is not None
        assert set(settings.jwt_secret.get_secret_value()) <= set("0123456789abcdef")
        failing = [c.name for c in check_settings(settings) if c.severity is Severity.ERROR]
        assert failing == []


def test_production_never_generates_secrets(tmp_path: Path) -> None:
    settings = load(EMPULSE_ENV="production", EMPULSE_DATA_DIR=str(tmp_path))
    assert settings.jwt_secret is None
    assert not (tmp_path / "secrets.json").exists()


@pytest.mark.parametrize(
    ("values", "failing", "reason"),
    [
        ({"JWT_SECRET": ""}, "JWT_SECRET", "missing"),
        ({"JWT_SECRET": "too-short-9f2"}, "JWT_SECRET", "shorter than 32 bytes"),
        (
            {"JWT_SECRET": "your-super-secret-jwt-key-change-this-in-production"},
            "JWT_SECRET",
            "placeholder",
        ),
        ({"ENCRYPTION_KEY": "abc123"}, "ENCRYPTION_KEY", "64 hex"),
        ({"ENCRYPTION_KEY": "0" * 64}, "ENCRYPTION_KEY", "placeholder"),
        ({"APP_URL": "http://empulse.example"}, "APP_URL", "https"),
        ({"ALLOWED_ORIGINS": "*"}, "ALLOWED_ORIGINS", "'*'"),
    ],
)
def test_production_refuses_to_start_and_names_the_setting(
    tmp_path: Path, values: dict[str, str], failing: str, reason: str
) -> None:
    settings = production(tmp_path, **values)
    with pytest.raises(UnsafeConfigurationError) as raised:
        create_app(settings, configure_logs=False)
    assert [check.name for check in raised.value.failures] == [failing]
    assert failing in str(raised.value)
    assert reason in str(raised.value)
    secret = values.get("JWT_SECRET") or values.get("ENCRYPTION_KEY")
    if secret:
        assert secret not in str(raised.value)


def test_a_safe_production_configuration_starts(tmp_path: Path) -> None:
    create_app(production(tmp_path), configure_logs=False)


def test_production_warns_about_embedded_backends(tmp_path: Path) -> None:
    settings = production(tmp_path, DATABASE_URL="")
    by_name = {check.name: check for check in check_settings(settings)}
    assert by_name["DATABASE_URL"].severity is Severity.WARNING
    assert by_name["REDIS_URL"].severity is Severity.WARNING
    assert by_name["S3_BUCKET"].severity is Severity.WARNING


def test_seed_variable_names_are_accepted(tmp_path: Path) -> None:
    """The seed's AWS_* / R2_* / NEXT_PUBLIC_APP_URL names configure the same settings."""
    aws = load(
        EMPULSE_DATA_DIR=str(tmp_path),
        AWS_S3_BUCKET="tracks",
        AWS_REGION="eu-west-1",
        AWS_ACCESS_KEY_ID="AKIAEXAMPLE",
        AWS_SECRET_ACCESS_KEY="aws-secret-value",
        NEXT_PUBLIC_APP_URL="https://listen.example/",
    )
    assert aws.s3_bucket == "tracks"
    assert aws.s3_region == "eu-west-1"
    assert aws.s3_access_key_id == "AKIAEXAMPLE"
    assert aws.app_url == "https://listen.example"
    r2 = load(
        EMPULSE_DATA_DIR=str(tmp_path),
        R2_ACCOUNT_ID="acc123",
        R2_BUCKET_NAME="media",
        R2_ACCESS_KEY_ID="r2key",
        R2_SECRET_ACCESS_KEY="r2secret",
    )
    assert r2.s3_bucket == "media"
    assert r2.s3_endpoint == "https://acc123.r2.cloudflarestorage.com"


def test_database_urls_get_the_async_driver(tmp_path: Path) -> None:
    settings = load(EMPULSE_DATA_DIR=str(tmp_path), DATABASE_URL="postgres://u:pw@h:5432/db")
    assert settings.database_url == "postgresql+asyncpg://u:pw@h:5432/db"
    assert settings.redacted_database_url() == "postgresql+asyncpg://u:***@h:5432/db"


def test_list_settings_accept_comma_separated_values(tmp_path: Path) -> None:
    settings = load(
        EMPULSE_DATA_DIR=str(tmp_path),
        ALLOWED_ORIGINS="https://a.example, https://b.example/",
        TRUSTED_PROXIES="10.0.0.0/8,192.168.1.1",
    )
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert [str(net) for net in settings.trusted_proxies] == ["10.0.0.0/8", "192.168.1.1/32"]


def test_env_example_documents_every_setting() -> None:
    documented = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [name])
        assert any(f"{choice}=" in documented for choice in choices), name


def test_smtp_settings_and_the_resend_shortcut(tmp_path: Path) -> None:
    assert load(EMPULSE_DATA_DIR=str(tmp_path)).smtp is None
    smtp = load(EMPULSE_DATA_DIR=str(tmp_path), SMTP_HOST="mail.example", SMTP_SECURITY="tls").smtp
    assert smtp is not None
    assert (smtp.host, smtp.port, smtp.security) == ("mail.example", 465, "tls")
    resend = load(EMPULSE_DATA_DIR=str(tmp_path), RESEND_API_KEY="re_live_abc").smtp
    assert resend is not None
    assert (resend.host, resend.username, resend.password) == (
        "smtp.resend.com",
        "resend",
        "re_live_abc",
    )
    assert "re_live_abc" not in repr(resend)
