"""Who is on a page: the platforms' logins for pages opened in their apps, and the session.

WeCom: OAuth2 ``snsapi_base`` — the page sends the browser to WeCom's authorize URL, which comes
straight back with a one-time ``code`` that ``/cgi-bin/auth/getuserinfo`` turns into a userid.
DingTalk (免登): a small login page asks the JSAPI for a one-time code (``dd.getAuthCode``) and
posts it; ``/topapi/v2/user/getuserinfo`` turns it into a userid. Either way the userid must be
a registry person's; then a signed session cookie (HttpOnly, SameSite=Lax, Secure behind
https, for the /h5/ path only) names them for ``server.session_hours``, with a CSRF token that
every form posts back.

A login is bound to the browser that began it: its ``state`` is a one-time nonce kept in a
short-lived signed cookie, spent when the login finishes, so a code replayed from elsewhere, or
twice, signs nobody in (and the platforms take a code once anyway). Cookies are signed with
itsdangerous against ``server.session_secret`` and timed by the app's clock.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import itsdangerous
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.base.config import Settings
from bot.base.texts import render, text
from bot.platforms.errors import SendFailed
from bot.workflows.step import Policy
from storage.chat import person_by_account
from storage.engine import unit_of_work
from storage.files import FileStore

log = logging.getLogger("suiji.pages")

SESSION_COOKIE = "suiji_session"
LOGIN_COOKIE = "suiji_login"
COOKIE_PATH = "/h5/"
LOGIN_SECONDS = 600  # from leaving for the platform's login to coming back with its code
PLATFORM_AGENTS = {"wecom": "wxwork", "dingtalk": "dingtalk"}  # in their in-app browsers' UA
MAX_ID = 2**31 - 1  # the largest row id every database takes in a query (PostgreSQL's integer)
# What a malformed body raises while it is read (a multipart without its boundary, broken
# parts and their headers, bytes that are not in the charset, a charset that is not one).
UNREADABLE = (ValueError, LookupError, HttpProcessingError)
# Sent with every page: only this site may frame them (the sandbox does, on the same origin),
# and a response is never read as another type than it says.
PAGE_HEADERS = {
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
}


class Identity(Protocol):
    async def user_of_code(self, code: str) -> str | None: ...


@dataclass(frozen=True)
class Sources:
    """What the pages need from the app (the database and the platforms' clients are opened
    with it, so they are asked for when needed)."""

    settings: Settings
    policy: Policy
    clock: Callable[[], dt.datetime]
    factory: Callable[[], async_sessionmaker[AsyncSession]]
    identities: Callable[[], Mapping[str, Identity]]
    store: FileStore


SOURCES = web.AppKey("page_sources", Sources)


@dataclass(frozen=True)
class Visitor:
    """The person a valid session cookie names, and the CSRF token of that session."""

    person_id: int
    csrf: str


class _ClockSigner(itsdangerous.TimestampSigner):
    """Timed by the app's clock (moved in tests and the sandbox), not the system's."""

    clock: Callable[[], float] = staticmethod(lambda: 0.0)  # set per Sessions

    def get_timestamp(self) -> int:
        return int(self.clock())


class Sessions:
    """Signing and reading the page's two cookies."""

    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        signer = type("Signer", (_ClockSigner,), {"clock": staticmethod(clock)})
        secret = settings.server.session_secret
        self._session = itsdangerous.URLSafeTimedSerializer(
            secret, salt="suiji-page-session", signer=signer
        )
        self._login = itsdangerous.URLSafeTimedSerializer(
            secret, salt="suiji-page-login", signer=signer
        )
        self.max_age = settings.server.session_hours * 3600
        self.secure = settings.server.public_url.startswith("https://")

    def visitor(self, request: web.Request) -> Visitor | None:
        """Who the session cookie names; None when there is none, or it is forged or old."""
        return self.visitor_of(request.cookies.get(SESSION_COOKIE, ""))

    def visitor_of(self, cookie: str) -> Visitor | None:
        data = _load(self._session, cookie, self.max_age)
        if not isinstance(data, dict):
            return None
        person, csrf = data.get("p"), data.get("c")
        if not isinstance(person, int) or not isinstance(csrf, str):
            return None
        return Visitor(person, csrf)

    def sign_in(self, response: web.StreamResponse, person_id: int) -> None:
        token = self._session.dumps({"p": person_id, "c": secrets.token_urlsafe(24)})
        self._set(response, SESSION_COOKIE, token, self.max_age)
        response.del_cookie(LOGIN_COOKIE, path=COOKIE_PATH)

    def begin_login(self, response: web.StreamResponse, after: str) -> str:
        """A login's one-time state, kept in the browser with where to go after it."""
        nonce = secrets.token_urlsafe(24)
        self._set(response, LOGIN_COOKIE, self._login.dumps({"n": nonce, "a": after}), None)
        return nonce

    def finish_login(self, request: web.Request, state: str) -> str | None:
        """Where to go once logged in, if ``state`` is the one this browser began with."""
        data = _load(self._login, request.cookies.get(LOGIN_COOKIE, ""), LOGIN_SECONDS)
        if not isinstance(data, dict) or not isinstance(data.get("n"), str):
            return None
        if not hmac.compare_digest(str(data["n"]), state):
            return None
        after = data.get("a")
        return after if isinstance(after, str) and safe_after(after) else None

    def _set(self, response: web.StreamResponse, name: str, value: str, age: int | None) -> None:
        response.set_cookie(
            name,
            value,
            path=COOKIE_PATH,
            max_age=age,
            httponly=True,
            samesite="Lax",  # sent on the platform's redirect back, not on others' posts
            secure=self.secure,
        )


def _load(serializer: itsdangerous.URLSafeTimedSerializer, token: str, age: int) -> Any:
    if not token:
        return None
    try:
        return serializer.loads(token, max_age=age)
    except itsdangerous.BadData:  # forged, altered, expired, or signed with another secret
        return None


def safe_after(path: str) -> bool:
    """Only this site's own pages may be gone to after a login: never another site."""
    return path.startswith("/h5/") and not path.startswith("//") and "\\" not in path


SESSIONS = web.AppKey("page_sessions", Sessions)


def page(status: int, message: str) -> web.Response:
    """A short page that says why, in Chinese, and nothing more."""
    body = render("h5/message.html.j2", message=message)
    return web.Response(status=status, text=body, content_type="text/html")


def forbidden() -> web.Response:
    return page(403, text("page.forbidden"))


def row_id(request: web.Request, name: str) -> int:
    """The id in the page's address; one past what a database holds is refused as a page
    that is not (the same 403 as another team's)."""
    value = int(request.match_info[name])
    if value > MAX_ID:
        raise web.HTTPForbidden(
            text=render("h5/message.html.j2", message=text("page.forbidden")),
            content_type="text/html",
        )
    return value


async def posted(request: web.Request) -> MultiDictProxy[Any] | None:
    """The form posted, or None when its body cannot be read, or holds a NUL (no browser
    types one, and PostgreSQL's text cannot hold it)."""
    try:
        form = await request.post()
    except UNREADABLE:
        return None
    except web.HTTPRequestEntityTooLarge as exc:
        # aiohttp's own answer is English plain text; a person on the page reads why instead.
        raise web.HTTPRequestEntityTooLarge(
            max_size=request.client_max_size,
            actual_size=request.content_length or 0,
            text=render("h5/message.html.j2", message=text("page.too_large")),
            content_type="text/html",
        ) from exc
    if any(isinstance(v, str) and "\x00" in v for v in form.values()):
        return None
    return form


def unreadable() -> web.Response:
    return page(400, text("page.bad_form"))


async def _page_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(COOKIE_PATH):
        response.headers.update(PAGE_HEADERS)


def absolute(request: web.Request, path: str) -> str:
    """``path`` under the public address people reach suiji at."""
    return f"{request.app[SOURCES].settings.server.public_url}{path}"


def platforms(settings: Settings) -> list[str]:
    """The platforms a page can be logged in through."""
    found = ["wecom"] if settings.wecom.enabled else []
    return [*found, "dingtalk"] if settings.dingtalk.page_login else found


def login_redirect(request: web.Request, after: str) -> web.Response:
    query = urllib.parse.urlencode({"after": after})
    raise web.HTTPFound(absolute(request, f"/h5/login?{query}"))


async def login(request: web.Request) -> web.Response:
    """Begin a login through the platform whose app the page was opened in."""
    settings = request.app[SOURCES].settings
    after = request.query.get("after", "/h5/")
    if not safe_after(after):
        after = "/h5/"
    able = platforms(settings)
    chosen = request.query.get("via", "")
    if chosen not in able:
        agent = request.headers.get("User-Agent", "").lower()
        chosen = next((p for p in able if PLATFORM_AGENTS[p] in agent), "")
    if not chosen and len(able) == 1:
        chosen = able[0]
    if not chosen:
        links = {p: f"/h5/login?{urllib.parse.urlencode({'via': p, 'after': after})}" for p in able}
        body = render("h5/choose.html.j2", links=links)
        return web.Response(text=body, content_type="text/html")
    if chosen == "wecom":
        return _wecom_authorize(request, after)
    return _dingtalk_login_page(request, after)


def _wecom_authorize(request: web.Request, after: str) -> web.Response:
    w = request.app[SOURCES].settings.wecom
    response = web.Response(status=302)
    state = request.app[SESSIONS].begin_login(response, after)
    query = urllib.parse.urlencode(
        {
            "appid": w.corp_id,
            "redirect_uri": absolute(request, "/h5/login/wecom"),
            "response_type": "code",
            "scope": "snsapi_base",
            "state": state,
            "agentid": str(w.agent_id),
        }
    )
    url = f"{w.oauth_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"
    response.headers["Location"] = url
    return response


def _dingtalk_login_page(request: web.Request, after: str) -> web.Response:
    d = request.app[SOURCES].settings.dingtalk
    response = web.Response(content_type="text/html")
    state = request.app[SESSIONS].begin_login(response, after)
    response.text = render(
        "h5/dingtalk_login.html.j2",
        jsapi=d.jsapi_url,
        corp_id=d.corp_id,
        state=state,
        action=absolute(request, "/h5/login/dingtalk"),
    )
    return response


async def wecom_back(request: web.Request) -> web.Response:
    """WeCom's redirect back: ``code`` and the ``state`` this browser began with."""
    code, state = request.query.get("code", ""), request.query.get("state", "")
    return await _finish(request, "wecom", code, state)


async def dingtalk_back(request: web.Request) -> web.Response:
    """The DingTalk login page posts the JSAPI's code and its state."""
    form = await posted(request)
    if form is None:
        return unreadable()
    code, state = str(form.get("code", "")), str(form.get("state", ""))
    return await _finish(request, "dingtalk", code, state)


async def _finish(request: web.Request, platform: str, code: str, state: str) -> web.Response:
    sessions = request.app[SESSIONS]
    after = sessions.finish_login(request, state)
    if after is None or not code or len(code) > 512:
        return page(403, text("page.login_failed"))
    identity = request.app[SOURCES].identities().get(platform)
    if identity is None:
        return page(404, text("page.no_pages"))
    try:
        userid = await identity.user_of_code(code)
    except SendFailed as failure:
        log.warning("%s could not say who opened a page: %s", platform, failure.reason)
        return page(503, text("page.platform_unavailable"))
    if userid is None:
        return page(403, text("page.login_failed"))
    async with unit_of_work(request.app[SOURCES].factory()) as session:
        person = await person_by_account(session, platform, userid)
        person_id = person.id if person is not None else None
    if person_id is None:
        return page(403, text("page.not_in_registry"))
    response = web.Response(status=302, headers={"Location": absolute(request, after)})
    sessions.sign_in(response, person_id)
    return response


def check_csrf(visitor: Visitor, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(visitor.csrf, given)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def no_pages(request: web.Request) -> web.Response:
    return page(404, text("page.no_pages"))


def guarded(handler: Handler) -> Handler:
    """A page route that answers 404 while pages are not set up (chat only)."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        if not request.app[SOURCES].policy.finding_pages:
            return await no_pages(request)
        return await handler(request)

    return guarded


def install(app: web.Application, sources: Sources) -> None:
    """The login routes; the pages that need a login read ``SESSIONS``."""
    app[SOURCES] = sources
    app[SESSIONS] = Sessions(sources.settings, lambda: sources.clock().timestamp())
    app.on_response_prepare.append(_page_headers)
    app.router.add_get("/h5/login", guarded(login))
    app.router.add_get("/h5/login/wecom", guarded(wecom_back))
    app.router.add_post("/h5/login/dingtalk", guarded(dingtalk_back))
