"""Request body guard: size limits counted on the streamed bytes, and the content type.

`Content-Length` is checked up front, but a chunked body has none, and a client may lie: the
bytes are counted as they arrive and the request fails with 413 as soon as the limit is passed,
whether or not the endpoint has started reading (SECURITY.md "Input and access control").
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from empulse.core.errors import PROBLEM_MEDIA_TYPE, problem_body

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(Exception):
    """Raised from `receive` when the streamed body passes the limit."""


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default_limit: int,
        json_prefix: str,
        limits_by_prefix: Mapping[str, int] | None = None,
        multipart_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.json_prefix = json_prefix
        # Longest prefix first, so /api/v1/submissions/x beats /api/v1.
        self.limits = sorted((limits_by_prefix or {}).items(), key=lambda item: -len(item[0]))
        self.multipart_prefixes = multipart_prefixes

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
        limit = self._limit_for(path)
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
        if has_body and path.startswith(self.json_prefix):
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
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if response_started:
                raise
            await self._too_large(scope, send, limit)
        except Exception as exc:
            # The framework may wrap our exception while parsing the body (FastAPI turns any
            # body-reading error into a 400); the cause tells what happened.
            if not response_started and _caused_by_body_too_large(exc):
                await self._too_large(scope, send, limit)
                return
            raise

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        await self._reject(
            scope,
            send,
            413,
            "payload_too_large",
            f"The request body is larger than the limit of {limit} bytes.",
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


def _caused_by_body_too_large(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BodyTooLarge):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
