"""Real servers for tests: S3 (moto's server mode), SMTP (aiosmtpd), and the service itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer

from empulse.config import load_settings
from empulse.core.db import create_engine, create_sessionmaker, session_scope
from empulse.users.service import create_or_promote_admin
from tests.support.services import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


# --- S3 -----------------------------------------------------------------------------------


@dataclass
class S3Server:
    endpoint_url: str
    bucket: str
    access_key: str = "test-access-key"
    secret_key: str = "test-secret-key"

    def settings(self) -> dict[str, str]:
        return {
            "S3_ENDPOINT_URL": self.endpoint_url,
            "S3_BUCKET": self.bucket,
            "S3_REGION": "us-east-1",
            "S3_ACCESS_KEY_ID": self.access_key,
            "S3_SECRET_ACCESS_KEY": self.secret_key,
        }

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )


@pytest.fixture(scope="session")
def _moto() -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_server(_moto: str) -> S3Server:
    """An S3 server with a fresh, empty bucket for this test."""
    server = S3Server(endpoint_url=_moto, bucket=f"empulse-{os.urandom(6).hex()}")
    server.client().create_bucket(Bucket=server.bucket)
    return server


# --- SMTP ---------------------------------------------------------------------------------


@dataclass
class SmtpCapture:
    host: str
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    controller: Any = None
    # Mailboxes this server says do not exist (a permanent 550 at RCPT).
    unknown_mailboxes: set[str] = field(default_factory=set)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.unknown_mailboxes:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """Block until `count` messages have arrived (or fail after `timeout`)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.messages) >= count, timeout):
                raise AssertionError(f"expected {count} message(s), got {len(self.messages)}")
            return list(self.messages)

    def settings(self) -> dict[str, str]:
        return {"SMTP_HOST": self.host, "SMTP_PORT": str(self.port), "SMTP_SECURITY": "none"}


@pytest.fixture
def smtp_server() -> Iterator[SmtpCapture]:
    """An SMTP server on a free port that keeps every message it receives."""
    capture = SmtpCapture(host="127.0.0.1", port=free_port())
    controller = Controller(capture, hostname=capture.host, port=capture.port)
    capture.controller = controller
    controller.start()
    yield capture
    with contextlib.suppress(AssertionError):  # a test stopped it already
        controller.stop()


# --- the service as a real process ----------------------------------------------------------


class ServerProcess:
    def __init__(self, args: list[str], env: dict[str, str], port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._lines: list[str] = []
        self._new_line = threading.Condition()
        self.process = subprocess.Popen(
            args,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group: the server's workers are processes of their own, and a
            # test that kills the server kills them with it.
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._new_line:
                self._lines.append(line)
                self._new_line.notify_all()

    def output(self) -> str:
        with self._new_line:
            return "".join(self._lines)

    def wait_for_output(self, text: str, timeout: float = 15.0) -> None:
        """Block until the server has printed `text`."""
        with self._new_line:
            if not self._new_line.wait_for(lambda: text in "".join(self._lines), timeout):
                raise AssertionError(f"server never printed {text!r}:\n{''.join(self._lines)}")

    def wait_until_serving(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server did not start in {timeout}s:\n{self.output()}")

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 30.0) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            # What the server printed, and where its processes stand, tell why it did not stop.
            raise AssertionError(
                f"server did not exit in {timeout}s:\n{self.output()}\n{self._processes()}"
            ) from None
        self._reader.join(timeout=5)
        return code

    def _processes(self) -> str:
        """The processes of the server's group: state, kernel wait channel, signal masks."""
        lines = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) != self.process.pid:  # the process group
                    continue
                status = dict(
                    line.split(":\t", 1)
                    for line in (stat.parent / "status").read_text().splitlines()
                    if ":\t" in line
                )
                wchan = (stat.parent / "wchan").read_text()
            except (OSError, ValueError, IndexError):
                continue  # gone meanwhile
            lines.append(
                f"pid {stat.parent.name} state {fields[0]} wchan {wchan} threads "
                f"{status.get('Threads')} blocked {status.get('SigBlk')} "
                f"pending {status.get('ShdPnd')}/{status.get('SigPnd')} "
                f"caught {status.get('SigCgt')}"
            )
        return "processes of the server's group:\n" + ("\n".join(lines) or "none")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)


class LiveServers:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.started: list[ServerProcess] = []

    def environment(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """What a server process (or a CLI command beside it) runs with: the test's own
        environment, the test mode and data folder, then `env`."""
        return {
            **os.environ,
            "EMPULSE_ENV": "test",
            "EMPULSE_DATA_DIR": str(self.data_dir),
            "PYTHONPATH": str(REPO_ROOT),
            **(env or {}),
        }

    def cli(self, *args: str, env: dict[str, str] | None = None, stdin: str = "") -> None:
        """Run `empulse <args>` against the same data and services; it must succeed."""
        done = subprocess.run(
            [sys.executable, "-m", "empulse.cli", *args],
            input=stdin,
            text=True,
            capture_output=True,
            timeout=60,
            check=False,
            env=self.environment(env),
        )
        assert done.returncode == 0, done.stderr

    def create_admin(self, email: str, password: str, env: dict[str, str] | None = None) -> None:
        """What `empulse create-admin` does (tests/test_cli.py runs the command), done in this
        process: a second interpreter would cost each live-server test seconds of imports. The
        servers' database must be migrated already (a started server has done it)."""
        settings = load_settings(
            EMPULSE_ENV="test", EMPULSE_DATA_DIR=str(self.data_dir), **(env or {})
        )

        async def create() -> None:
            engine = create_engine(settings)
            try:
                async with session_scope(create_sessionmaker(engine)) as session:
                    await create_or_promote_admin(session, email=email, password=password)
            finally:
                await engine.dispose()

        asyncio.run(create())

    def start(
        self,
        *,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        wait_until_serving: bool = True,
    ) -> ServerProcess:
        """Run `empulse serve` (or `python -m <args>` when given) on a free port."""
        port = free_port()
        command = [sys.executable, "-m", *(args or ["empulse.cli", "serve"]), "--port", str(port)]
        server = ServerProcess(command, self.environment(env), port)
        self.started.append(server)
        if wait_until_serving:
            server.wait_until_serving()
        return server


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServers]:
    servers = LiveServers(tmp_path / "live")
    yield servers
    for server in servers.started:
        server.stop()
