"""Security headers on every response, errors included (SECURITY.md "Browser requests").

The API serves JSON only, so its policy forbids everything (`default-src 'none'`). The docs page
loads its own script and stylesheet from this origin and gets a policy of its own.
"""

from __future__ import annotations

API_CSP = b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
DOCS_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    b"form-action 'none'"
)
HSTS = b"max-age=63072000; includeSubDomains"


class SecurityHeaders:
    """The headers added to every response; applied by the request-context middleware, which
    already sees every response start (one layer fewer on the hot path)."""

    def __init__(self, *, hsts: bool, docs_prefix: str) -> None:
        self.docs_prefix = docs_prefix
        common = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
        ]
        if hsts:
            common.append((b"strict-transport-security", HSTS))
        self.api_headers = [*common, (b"content-security-policy", API_CSP)]
        self.docs_headers = [*common, (b"content-security-policy", DOCS_CSP)]

    def for_path(self, path: str) -> list[tuple[bytes, bytes]]:
        return self.docs_headers if path.startswith(self.docs_prefix) else self.api_headers

    @staticmethod
    def apply(
        headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        combined = [*headers, *extra]
        if not any(name.lower() == b"cache-control" for name, _ in headers):
            # Responses may carry personal data; nothing is cached unless a route says so.
            combined.append((b"cache-control", b"no-store"))
        return combined
