"""The HTTP edge, probed over raw sockets against the real server: oversized and slow clients
are cut off by the service itself, with no reverse proxy in front (ASVS 5.0 V4.1, V13.1)."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures import LiveServers, ServerProcess

# Short bounds, so that each slow client is cut off within a second or two.
EDGE_ENV = {
    "HTTP_HEADER_TIMEOUT_SECONDS": "1",
    "HTTP_BODY_GRACE_SECONDS": "1",
    "HTTP_BODY_MIN_RATE": "1024",
}
# Long enough for any bound above to fire; a socket still open after it was never cut off.
PATIENCE = 15.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    servers = LiveServers(Path(tmp_path_factory.mktemp("edge")))
    yield servers.start(env=EDGE_ENV)
    for started in servers.started:
        started.stop()


def _connect(server: ServerProcess) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", server.port))
    connection.settimeout(PATIENCE)
    return connection


def _read_response(connection: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := connection.recv(65536):
        data += chunk
    return data


def _read_answer(connection: socket.socket) -> bytes:
    """One response: its head and the body its Content-Length announces."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        assert chunk, f"closed without an answer after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        assert chunk, "closed in the middle of the body"
        body += chunk
    return head + b"\r\n\r\n" + body


def _send_ignoring_reset(connection: socket.socket, data: bytes) -> None:
    # The server may answer and close while the rest is still on its way.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        connection.sendall(data)


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _problem(response: bytes) -> dict[str, object]:
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower()
    problem: dict[str, object] = json.loads(body)
    return problem


def test_an_8_mb_header_is_refused_with_431(server: ServerProcess) -> None:
    with _connect(server) as connection:
        _send_ignoring_reset(
            connection,
            b"GET /api/v1 HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 << 20) + b"\r\n\r\n",
        )
        assert _status(_read_response(connection)) == 431


def test_20000_header_fields_are_refused_with_431(server: ServerProcess) -> None:
    fields = b"".join(b"X-F%d: v\r\n" % i for i in range(20_000))
    with _connect(server) as connection:
        _send_ignoring_reset(connection, b"GET /api/v1 HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
        assert _status(_read_response(connection)) == 431


def test_unfinished_heads_do_not_hold_the_server(server: ServerProcess) -> None:
    """Four clients each pushing 8 MB of a head that never ends are each cut off once the
    head passes the bound (64 KiB), not buffered."""
    connections = [_connect(server) for _ in range(4)]
    try:
        for connection in connections:
            _send_ignoring_reset(
                connection, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 << 20)
            )
        for connection in connections:
            assert _status(_read_response(connection)) == 431
    finally:
        for connection in connections:
            connection.close()
    # And the server still answers.
    with _connect(server) as connection:
        connection.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _status(_read_response(connection)) == 200


def test_a_head_that_stops_half_way_is_dropped(server: ServerProcess) -> None:
    """A client that sends part of its head and then nothing is disconnected at the head
    timeout (1 s here), not kept waiting for ever."""
    with _connect(server) as connection:
        connection.sendall(b"GET /api/v1 HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n")
        began = time.monotonic()
        _read_response(connection)  # returns when the server closes
        assert time.monotonic() - began < PATIENCE


def test_a_head_sent_one_line_at_a_time_is_dropped(server: ServerProcess) -> None:
    """Slowloris: a new header line whenever the last one is accepted. The head timeout counts
    from the first byte, so fresh lines do not keep the connection alive."""
    with _connect(server) as connection:
        connection.sendall(b"GET /api/v1 HTTP/1.1\r\nHost: x\r\n")
        closed = _trickle_until_closed(connection, (b"X-S%d: v\r\n" % i for i in range(1000)))
        assert closed, "the server kept a head that never ended"


def test_a_body_that_stops_is_answered_408(server: ServerProcess) -> None:
    """The request ends at the bound (the app's work for it with it), with a problem document
    that tells the client the connection is done."""
    with _connect(server) as connection:
        connection.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        response = _read_answer(connection)
    assert _status(response) == 408
    problem = _problem(response)
    assert problem["code"] == "request_timeout"
    head = response.lower()
    assert b"connection: close" in head
    assert b"x-content-type-options: nosniff" in head


def test_a_body_sent_a_byte_at_a_time_is_answered_408(server: ServerProcess) -> None:
    """One body byte after another, each as soon as the server could want it, stays far below
    the minimum rate: the request fails and the connection closes."""
    with _connect(server) as connection:
        connection.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
        )
        answer = _trickle_until_answered(connection, (b" " for _ in range(100_000)))
        assert _status(answer) == 408


def test_a_complete_post_keeps_the_connection_for_the_next_request(
    server: ServerProcess,
) -> None:
    """The guard closes only connections whose body it did not read to the end."""
    body = b'{"email": "nobody@example.com"}'
    request = (
        b"POST /api/v1/auth/forgot-password HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with _connect(server) as connection:
        connection.sendall(request)
        first = _read_answer(connection)
        assert _status(first) == 202
        assert b"connection: close" not in first.lower()
        connection.sendall(b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert _status(_read_response(connection)) == 200


def test_an_invalid_content_length_is_refused(server: ServerProcess) -> None:
    with _connect(server) as connection:
        connection.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 12abc\r\n\r\n{}"
        )
        assert _status(_read_response(connection)) == 400


def _trickle_until_closed(connection: socket.socket, pieces: Iterator[bytes]) -> bool:
    """Send one piece whenever no answer is waiting; True once the server closes."""
    deadline = time.monotonic() + PATIENCE
    for piece in pieces:
        if time.monotonic() > deadline:
            return False
        readable, _, _ = select.select([connection], [], [], 0.2)
        if readable:
            _read_response(connection)
            return True
        try:
            connection.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            return True
    return False


def _trickle_until_answered(connection: socket.socket, pieces: Iterator[bytes]) -> bytes:
    deadline = time.monotonic() + PATIENCE
    for piece in pieces:
        assert time.monotonic() < deadline, "the server kept a body that trickled"
        readable, _, _ = select.select([connection], [], [], 0.2)
        if readable:
            return _read_answer(connection)
        connection.sendall(piece)
    raise AssertionError("the whole body was sent without an answer")
