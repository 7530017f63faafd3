"""A session with Slooh's JSON API (``shared/reference/slooh.md`` §2–§5).

Every call is a POST of a JSON body to ``{base_url}/api/<group>/<method>``. The session is:
``app/generateSessionToken`` (a guest token, sent as the ``_sloohsstkn`` cookie and as
``sloohSiteSessionToken`` in bodies), then ``users/login`` with ``username`` + ``passwd``,
whose answer gives the user triple ``cid`` / ``at`` / ``token`` carried in the body of every
later call. Errors travel inside HTTP 200 answers (§3): ``apiError`` true, an in-body
``statusCode`` (401 = session gone), ``errorMsg``; a failed login says ``loginError: "true"``.

A session can also expire silently (§2.6, §5): a list call answers ``totalCount`` 0 (or "")
with an empty list. Both kinds of expiry lead to one fresh login and one retry of the call;
a second expiry in a row is :class:`SloohSessionError`, which fails the run.

Credentials and tokens are registered with the log redactor and never logged.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import structlog

from daemon.errors import SourceError
from daemon.http import HttpClient
from daemon.logs import register_secret
from daemon.sources.slooh.paging import parse_count

log = structlog.get_logger("daemon.sources.slooh")
SESSION_COOKIE = "_sloohsstkn"
MAX_ANSWER_BYTES = 64 << 20
_STATUS_401 = "statusCode 401"
ACTIVE_SESSION_S = 300.0  # a session used this recently is not silently expired


class SloohError(SourceError):
    """The API answered with an error (``errorMsg`` and ``errorCode`` in the message)."""


class SloohLoginError(SloohError):
    """The login was refused (wrong username or password, locked account…)."""


class SloohSessionError(SloohError):
    """The session expired again right after a fresh login: the run stops here."""


@dataclass
class Page:
    """One page of a list call: its items and the list's total (None when unknown)."""

    items: list[dict[str, Any]]
    total: int | None


@dataclass
class _Auth:
    session_token: str
    cid: str
    at: str
    token: str


def is_true(value: Any) -> bool:
    """``True``, ``"true"``, ``"True"``, 1 → True (the API mixes booleans and strings)."""
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


@dataclass
class SloohApi:
    """A logged-in client; ``await api.login()`` once, then the list calls.

    Raises (from every call): :class:`SloohLoginError`, :class:`SloohSessionError`,
    :class:`SloohError`, and :class:`daemon.http.HttpError` for transport failures
    (already retried by the shared client).
    """

    http: HttpClient
    base_url: str
    username: str
    password: str
    product_id: str
    locale: str = "en"
    logins: int = 0
    _auth: _Auth | None = field(default=None, repr=False)
    _last_ok: float = field(default=-1e9, repr=False)  # loop time of the last login or good answer

    async def _post(self, endpoint: str, body: dict[str, Any] | None,
                    session_token: str | None = None) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        if session_token:
            headers["Cookie"] = f"{SESSION_COOKIE}={session_token}"
        raw = await self.http.post_json(f"{self.base_url}/api/{endpoint}", body, headers=headers,
                                        max_bytes=MAX_ANSWER_BYTES)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise SloohError(f"{endpoint}: answer is not JSON ({len(raw)} bytes)") from None
        if not isinstance(answer, dict):
            raise SloohError(f"{endpoint}: answer is not a JSON object")
        return answer

    async def login(self) -> None:
        """Session token, then login; keeps the user triple.

        Raises:
            SloohLoginError: the credentials were refused (the API's message included).
            SloohError: a malformed answer.
        """
        register_secret(self.username)
        register_secret(self.password)
        first = await self._post("app/generateSessionToken", None)
        session_token = str(first.get("sloohSessionToken") or "")
        if not session_token or is_true(first.get("apiError")):
            raise SloohError(f"generateSessionToken gave no token: {_message(first)}")
        register_secret(session_token)
        body = {"username": self.username, "passwd": self.password, "productId": self.product_id,
                "locale": self.locale, "sloohSiteSessionToken": session_token}
        answer = await self._post("users/login", body, session_token)
        if is_true(answer.get("loginError")) or is_true(answer.get("apiError")):
            raise SloohLoginError(f"login refused: {_message(answer)}")
        cid, at, token = (str(answer.get(k) or "").strip() for k in ("cid", "at", "token"))
        if not (cid and at and token):
            raise SloohError("login answer lacks cid/at/token")
        register_secret(token)
        self._auth = _Auth(session_token, cid, at, token)
        self._last_ok = asyncio.get_running_loop().time()
        self.logins += 1
        log.info("slooh_logged_in", logins=self.logins)

    def _body(self, extra: dict[str, Any]) -> dict[str, Any]:
        assert self._auth is not None
        a = self._auth
        return {"at": a.at, "cid": a.cid, "token": a.token, "sloohSiteSessionToken": a.session_token,
                "productId": self.product_id, "locale": self.locale, **extra}

    async def call(self, endpoint: str, extra: dict[str, Any], list_key: str | None = None,
                   first: int = 1) -> dict[str, Any]:
        """An authenticated call; on an expired session (in-body 401, or for list calls an
        empty list with a zero/empty total) log in again once and repeat it.

        An empty first page (``first`` 1) of a session used within the last
        ``ACTIVE_SESSION_S`` is an empty list, not an expiry (silent expiry follows 15–30
        minutes of inactivity, §2.6).

        Raises:
            SloohSessionError: expired again after the fresh login.
            SloohError: ``apiError`` with another status.
        """
        loop = asyncio.get_running_loop()
        if self._auth is None:
            await self.login()
        for attempt in (1, 2):
            assert self._auth is not None
            active = loop.time() - self._last_ok < ACTIVE_SESSION_S
            answer = await self._post(endpoint, self._body(extra), self._auth.session_token)
            expired = _expired(answer, list_key)
            if expired is None or (active and first == 1 and expired != _STATUS_401):
                self._last_ok = loop.time()
                return answer
            if attempt == 2:
                raise SloohSessionError(
                    f"{endpoint}: session expired again right after a fresh login ({expired})")
            log.warning("slooh_session_expired", endpoint=endpoint, sign=expired, position=first)
            await self.login()
        raise AssertionError("unreachable")

    async def pictures(self, first: int, count: int, mission_id: int = 0) -> Page:
        """``images/getMyPictures``: the photo roll (``mission_id`` 0, newest first) or one
        mission's pictures; ``first`` is 1-based (§4.5)."""
        view = "missions" if mission_id else "photoRoll"
        answer = await self.call("images/getMyPictures", {
            "viewType": view, "scheduledMissionId": mission_id, "firstImageNumber": first,
            "maxImageCount": count, "pagingMode": "api"}, list_key="imageList", first=first)
        return Page(_items(answer, "imageList"), parse_count(answer.get("totalCount")))

    async def missions(self, first: int, count: int) -> Page:
        """``images/getMissionImages``: the account's missions, newest first (§4.4)."""
        answer = await self.call("images/getMissionImages", {
            "firstMissionNumber": first, "maxMissionCount": count, "pagingMode": "api"},
            list_key="imageList", first=first)
        return Page(_items(answer, "imageList"), parse_count(answer.get("totalCount")))

    async def mission_fits(self, mission_id: int) -> list[tuple[str, dict[str, Any]]]:
        """``images/getMissionFITS``: (group/instrument name, FITS entry) of one mission (§4.6).

        An empty ``groupList`` is a mission without FITS (not an expiry).
        """
        answer = await self.call("images/getMissionFITS", {"scheduledMissionId": mission_id})
        out: list[tuple[str, dict[str, Any]]] = []
        groups = answer.get("groupList") or []
        if not isinstance(groups, list):
            raise SloohError(f"getMissionFITS {mission_id}: groupList is not a list")
        for group in groups:
            if not isinstance(group, dict):
                continue
            name = str(group.get("groupName") or "").strip()
            for entry in group.get("groupImageList") or []:
                if isinstance(entry, dict):
                    out.append((name, entry))
        return out


def _items(answer: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = answer.get(key) or []
    if not isinstance(items, list):
        raise SloohError(f"{key} is not a list")
    return [i for i in items if isinstance(i, dict)]


def _message(answer: dict[str, Any]) -> str:
    text = str(answer.get("errorMsg") or answer.get("errorMessage") or "no message").strip()
    return f"{text} (errorCode {answer.get('errorCode')}, statusCode {answer.get('statusCode')})"


def _expired(answer: dict[str, Any], list_key: str | None) -> str | None:
    """Why ``answer`` looks like an expired session, or None (§2.6, §3).

    Raises:
        SloohError: an API error that is not about the session.
    """
    status = parse_count(answer.get("statusCode"))
    if status == 401:
        return _STATUS_401
    if is_true(answer.get("apiError")):
        raise SloohError(_message(answer))
    if list_key is not None and not answer.get(list_key) and not parse_count(answer.get("totalCount")):
        return "empty list with totalCount 0"
    return None
