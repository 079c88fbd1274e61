"""HTTP for the Subsonic API: `/rest/<method>` and `/rest/<method>.view`, by GET or form POST.

Every answer but media is the `subsonic-response` envelope with HTTP 200, failures included
(clients read the code, not the status). The order of checks: the format (so even a failure
is answered as asked), the method, the version, the credentials, then the per-account limit.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from empulse.audit.service import RequestMeta
from empulse.core.errors import AppError, Forbidden, NotFound, RateLimited
from empulse.core.logging import get_logger
from empulse.infra.ratelimit import OnBackendError
from empulse.services import get_services
from empulse.subsonic import service
from empulse.subsonic.call import METHODS, Call
from empulse.subsonic.envelope import JSON, Code, Format, SubsonicError, failed, missing, ok
from empulse.subsonic.methods import register_all
from empulse.subsonic.params import Params
from empulse.subsonic.service import Credentials
from empulse.web.ratelimit import enforce

router = APIRouter(prefix="/rest", include_in_schema=False)
log = get_logger("empulse.subsonic")
register_all()

_FORM = "application/x-www-form-urlencoded"
_AUTH_PARAMETERS = ("u", "p", "t", "s", "apiKey")


async def _params(request: Request) -> Params:
    items = list(request.query_params.multi_items())
    if request.method == "POST" and request.headers.get("content-type", "").startswith(_FORM):
        form = await request.form()
        items.extend((key, value) for key, value in form.multi_items() if isinstance(value, str))
    return Params(items)


def _decoded_password(raw: str) -> str:
    """`p=enc:<hex>` is the password hex-encoded (not encrypted); anything else is as is."""
    if not raw.startswith("enc:"):
        return raw
    try:
        return bytes.fromhex(raw[4:]).decode()
    except ValueError:
        raise SubsonicError(Code.WRONG_CREDENTIALS, "Wrong username or password") from None


def _credential(params: Params, name: str, max_length: int) -> str | None:
    """A credential past any real one's length is a wrong one (40), not a malformed call."""
    value = params.text(name, max_length=10_000)
    if value is not None and len(value) > max_length:
        raise SubsonicError(Code.WRONG_CREDENTIALS, "Wrong username or password")
    return value


def credentials_of(params: Params) -> Credentials:
    for name in _AUTH_PARAMETERS:
        if params.distinct(name) > 1:
            raise SubsonicError(Code.CONFLICTING_AUTH, f"{name} was given more than once")
    api_key = _credential(params, "apiKey", 200)
    username = _credential(params, "u", 320)
    password = _credential(params, "p", 400)
    token = _credential(params, "t", 100)
    salt = _credential(params, "s", 100)
    if api_key is not None:
        if any(value is not None for value in (username, password, token, salt)):
            raise SubsonicError(Code.CONFLICTING_AUTH, "Send apiKey alone, without u, p, t or s")
        return Credentials(api_key=api_key)
    if username is None:
        raise missing("u")
    if password is not None and token is not None:
        raise SubsonicError(Code.CONFLICTING_AUTH, "Send either p or t and s, not both")
    if token is not None:
        if salt is None:
            raise missing("s")
        return Credentials(username=username, token=token, salt=salt)
    if password is None:
        raise missing("p")
    return Credentials(username=username, password=_decoded_password(password))


def _check_version(params: Params) -> None:
    raw = params.required("v", max_length=20)
    try:
        major = int(raw.split(".", 1)[0])
    except ValueError:
        raise SubsonicError(Code.GENERIC, "v must be a version such as 1.16.1") from None
    if major < 1:
        raise SubsonicError(Code.CLIENT_TOO_OLD, "Incompatible client: upgrade it")
    if major > 1:
        raise SubsonicError(Code.SERVER_TOO_OLD, "Incompatible server: this one speaks 1.16.1")


async def _authenticate(request: Request, params: Params) -> service.Caller:
    services = get_services(request)
    credentials = credentials_of(params)
    caller = await service.cached_caller(services, credentials)
    if caller is None:
        account = credentials.username or f"key:{(credentials.api_key or '')[:12]}"
        keys = [("ip", request.state.client_ip or "unknown"), ("account", account.lower())]
        await enforce(request, "subsonic_auth", keys, on_backend_error=OnBackendError.LOCAL)
        caller = await service.checked_caller(services, RequestMeta.of(request), credentials)
    request.state.user_id = str(caller.user_id)
    keys = [("ip", request.state.client_ip or "unknown"), ("user", str(caller.user_id))]
    await enforce(request, "subsonic", keys)
    return caller


def _as_subsonic(error: AppError) -> SubsonicError:
    if isinstance(error, RateLimited):
        return SubsonicError(Code.GENERIC, error.detail, headers=error.headers)
    if isinstance(error, NotFound):
        return SubsonicError(Code.NOT_FOUND, error.detail)
    if isinstance(error, Forbidden):
        return SubsonicError(Code.NOT_AUTHORIZED, error.detail)
    return SubsonicError(Code.GENERIC, error.detail)


async def rest(name: str, request: Request) -> Response:
    fmt: Format = JSON
    try:
        params = await _params(request)
        fmt = Format.asked(params.text("f", max_length=10), params.text("callback"))
        found = METHODS.get(name.removesuffix(".view"))
        if found is None:
            raise SubsonicError(Code.GENERIC, f"Unknown method: {name[:60]}")
        if found.public:
            caller = None
        else:
            _check_version(params)
            caller = await _authenticate(request, params)
        call = Call(
            request=request,
            services=get_services(request),
            params=params,
            caller=caller,  # type: ignore[arg-type]  # public methods never read it
            fmt=fmt,
            client=(params.text("c", max_length=100) or "unknown"),
        )
        answer = await found.handler(call)
    except SubsonicError as error:
        return failed(fmt, error)
    except AppError as error:
        return failed(fmt, _as_subsonic(error))
    except ValidationError as error:  # a value the JSON API's own schemas refuse
        first = error.errors()[0]
        return failed(fmt, SubsonicError(Code.GENERIC, f"{first['loc'][-1]}: {first['msg']}"))
    if isinstance(answer, Response):
        return answer
    return ok(fmt, answer)


for _method in ("GET", "POST"):
    router.add_api_route(
        "/{name}",
        rest,
        methods=[_method],
        name=f"subsonic_{_method.lower()}",
        response_class=Response,
    )
