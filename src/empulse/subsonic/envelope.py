"""The `subsonic-response` envelope in its three formats, and the API's failures.

An answer is built once, as the JSON format shapes it (dicts, lists, scalars), and written as
XML by the rule that the JSON format was derived from: a dict is an element, its scalar values
are attributes, its dict values are child elements, its list values are repeated child elements
of that name, and a `value` key is the element's text (a genre's name, lyrics). Failures answer
HTTP 200 with `status="failed"` and the spec's codes, as every Subsonic client expects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import IntEnum
from typing import Any

import orjson
from fastapi import Response

from empulse import __version__

API_VERSION = "1.16.1"
SERVER_TYPE = "empulse"
NAMESPACE = "http://subsonic.org/restapi"
# A JSONP callback is a dotted JavaScript identifier, nothing else (no injected script).
_CALLBACK = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]{0,63}(\.[A-Za-z_$][A-Za-z0-9_$]{0,63}){0,4}")
# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Code(IntEnum):
    """The Subsonic API's error codes."""

    GENERIC = 0
    MISSING_PARAMETER = 10
    CLIENT_TOO_OLD = 20
    SERVER_TOO_OLD = 30
    WRONG_CREDENTIALS = 40
    TOKEN_AUTH_NOT_SUPPORTED = 41
    AUTH_MECHANISM_NOT_SUPPORTED = 42
    CONFLICTING_AUTH = 43
    INVALID_API_KEY = 44
    NOT_AUTHORIZED = 50
    NOT_FOUND = 70


class SubsonicError(Exception):
    """A failed answer: its code and a message for the listener."""

    def __init__(self, code: Code, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def missing(name: str) -> SubsonicError:
    return SubsonicError(Code.MISSING_PARAMETER, f"Required parameter is missing: {name}")


def not_found(what: str) -> SubsonicError:
    return SubsonicError(Code.NOT_FOUND, f"{what} not found")


class Format:
    """How the caller asked to be answered (`f`, and `callback` for JSONP)."""

    __slots__ = ("callback", "kind")

    def __init__(self, kind: str, callback: str | None = None) -> None:
        self.kind = kind
        self.callback = callback

    @classmethod
    def asked(cls, f: str | None, callback: str | None) -> Format:
        """The format `f` names (XML when it names none we know). A JSONP request whose
        callback is missing or not an identifier is answered as JSON, with the failure."""
        if f == "json":
            return cls("json")
        if f == "jsonp":
            if callback is None:
                raise missing("callback")
            if not _CALLBACK.fullmatch(callback):
                raise SubsonicError(Code.GENERIC, "callback must be a JavaScript identifier")
            return cls("jsonp", callback)
        return cls("xml")


JSON = Format("json")


def _envelope(status: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "status": status,
        "version": API_VERSION,
        "type": SERVER_TYPE,
        "serverVersion": __version__,
        "openSubsonic": True,
        **body,
    }


def ok(fmt: Format, body: Mapping[str, Any] | None = None) -> Response:
    return render(fmt, _envelope("ok", body or {}))


def failed(fmt: Format, error: SubsonicError) -> Response:
    body = {"error": {"code": int(error.code), "message": error.message}}
    response = render(fmt, _envelope("failed", body))
    response.headers.update(error.headers)
    return response


def render(fmt: Format, envelope: dict[str, Any]) -> Response:
    if fmt.kind == "xml":
        document = '<?xml version="1.0" encoding="UTF-8"?>' + _element(
            "subsonic-response", {"xmlns": NAMESPACE, **envelope}
        )
        return Response(document.encode(), media_type="text/xml; charset=utf-8")
    payload = orjson.dumps({"subsonic-response": envelope})
    if fmt.kind == "jsonp":
        # The comment keeps a response that starts with attacker-chosen bytes from being read
        # as another content type (the Rosetta Flash family of attacks).
        body = b"/**/" + (fmt.callback or "").encode() + b"(" + payload + b");"
        return Response(body, media_type="application/javascript; charset=utf-8")
    return Response(payload, media_type="application/json")


def _text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _escape(text: str, *, attribute: bool) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if attribute:
        text = (
            text.replace('"', "&quot;")
            .replace("\n", "&#10;")
            .replace("\r", "&#13;")
            .replace("\t", "&#9;")
        )
    return text


def _element(name: str, node: Mapping[str, Any]) -> str:
    attributes: list[str] = []
    children: list[str] = []
    text = ""
    for key, value in node.items():
        if value is None:
            continue
        if key == "value":
            text = _escape(_text(value), attribute=False)
        elif isinstance(value, Mapping):
            children.append(_element(key, value))
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    children.append(_element(key, item))
                elif item is not None:
                    children.append(f"<{key}>{_escape(_text(item), attribute=False)}</{key}>")
        else:
            attributes.append(f' {key}="{_escape(_text(value), attribute=True)}"')
    opening = f"<{name}{''.join(attributes)}"
    if not children and not text:
        return opening + "/>"
    return f"{opening}>{text}{''.join(children)}</{name}>"
