"""Request body guard: size limits counted on the streamed bytes, and the content type.

`Content-Length` is checked up front, but a chunked body has none, and a client may lie: the
bytes are counted as they arrive and the request fails with 413 as soon as the limit is passed,
whether or not the endpoint has started reading (SECURITY.md "Input and access control").

A body must also keep coming: after a grace period it has to average at least a minimum rate,
or the request fails with 408 and the connection closes. The server bounds the request head
(server.py); without this, a client sending one body byte every few seconds held a connection,
and the request's memory, for as long as it liked. The rule is Kestrel's
`MinRequestBodyDataRate`: the time spent waiting for the body may not pass
`grace + received / rate`, a bound that moves on with every byte received, so a slow but steady
mobile upload passes and a trickle does not.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from empulse.core.errors import (
    PROBLEM_MEDIA_TYPE,
    AppError,
    PayloadTooLarge,
    RequestTimeout,
    problem_body,
)

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(Exception):
    """Raised from `receive` when the streamed body passes the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def error(self) -> AppError:
        return PayloadTooLarge(f"The request body is larger than the limit of {self.limit} bytes.")


class BodyTooSlow(Exception):
    """Raised from `receive` when the body falls below the minimum rate."""

    def __init__(self, rate: int) -> None:
        self.rate = rate

    def error(self) -> AppError:
        return RequestTimeout(f"The request body arrived slower than {self.rate} bytes a second.")


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        json_prefix: str,
        limits_by_prefix: Mapping[str, int] | None = None,
        multipart_prefixes: tuple[str, ...] = (),
        raw_paths: Mapping[str, int] | None = None,
        min_rate: int = 1024,
        grace_seconds: float = 10.0,
    ) -> None:
        self.app = app
        self.min_rate = min_rate
        self.grace_seconds = grace_seconds
        self.default_limit = default_limit
        self.json_prefix = json_prefix
        # Longest prefix first, so /api/v1/submissions/x beats /api/v1.
        self.limits = sorted((limits_by_prefix or {}).items(), key=lambda item: -len(item[0]))
        self.multipart_prefixes = multipart_prefixes
        # Paths (regular expressions, matched whole) whose body is a file of its own type (an
        # image), which the endpoint checks, each with its own limit.
        self.raw_paths = [
            (re.compile(pattern), limit) for pattern, limit in (raw_paths or {}).items()
        ]

    def _raw_limit(self, path: str) -> int | None:
        for pattern, limit in self.raw_paths:
            if pattern.fullmatch(path):
                return limit
        return None

    def _limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path.startswith(prefix):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _UNSAFE_METHODS:
            await self.app(scope, receive, send)
            return

        path: str = scope["path"]
        raw_limit = self._raw_limit(path)
        raw = raw_limit is not None
        limit = self._limit_for(path) if raw_limit is None else raw_limit
        content_length: int | None = None
        content_type = b""
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    content_length = int(value)
                except ValueError:
                    await self._reject(scope, send, 400, "bad_request", "Invalid Content-Length.")
                    return
            elif name == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True

        if content_length is not None and content_length > limit:
            await self._too_large(scope, send, limit)
            return

        has_body = chunked or bool(content_length)
        if has_body and path.startswith(self.json_prefix) and not raw:
            allowed = content_type == b"application/json" or content_type.endswith(b"+json")
            if not allowed and content_type == b"multipart/form-data":
                allowed = (
                    path.startswith(self.multipart_prefixes) if self.multipart_prefixes else False
                )
            if not allowed:
                await self._reject(
                    scope,
                    send,
                    415,
                    "unsupported_media_type",
                    "Send the request body as application/json.",
                )
                return

        received = 0
        body_done = not has_body
        response_started = False
        # Time spent waiting for the client's bytes only: a pause of the app's own between two
        # reads (waiting for a pool connection, say) is not held against the client.
        waited = 0.0
        clock = asyncio.get_running_loop().time

        async def limited_receive() -> Message:
            nonlocal received, body_done, waited
            if body_done:
                # After the body, `receive` waits for the client to go away (a streaming
                # response listens for it): no deadline there.
                return await receive()
            allowance = self.grace_seconds + received / self.min_rate - waited
            began = clock()
            try:
                async with asyncio.timeout(allowance):
                    message = await receive()
            except TimeoutError:
                raise BodyTooSlow(self.min_rate) from None
            finally:
                waited += clock() - began
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received > limit:
                    raise BodyTooLarge(limit)
            else:
                body_done = True
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                if not body_done:
                    # The rest of the body is not read (a refusal, or an endpoint that did not
                    # want it): the connection cannot carry another request.
                    message = {
                        **message,
                        "headers": [*message.get("headers", []), (b"connection", b"close")],
                    }
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except Exception as exc:
            # The framework may wrap our exception while parsing the body (FastAPI turns any
            # body-reading error into a 400); the cause tells what happened.
            error = None if response_started else body_error(exc)
            if error is None:
                raise
            await self._reject(scope, send, error.status, error.code, error.detail)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        await self._reject(
            scope, send, 413, "payload_too_large", BodyTooLarge(limit).error().detail
        )

    @staticmethod
    async def _reject(scope: Scope, send: Send, status: int, code: str, detail: str) -> None:
        request_id = scope.get("state", {}).get("request_id")
        body = problem_body(status=status, code=code, detail=detail, request_id=request_id)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is not read; the connection cannot be reused.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def body_error(exc: BaseException) -> AppError | None:
    """The refusal to answer when the body was too large or too slow, and that is `exc` or
    caused it (the framework may have wrapped it); None otherwise."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BodyTooLarge | BodyTooSlow):
            return current.error()
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
