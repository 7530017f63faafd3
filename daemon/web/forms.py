"""Form posts from the dashboard (``POST /ui/…``), which work without JavaScript.

A browser form cannot send ``Authorization: Bearer``: with ``[api] token`` set, a form must
carry the token in its ``api_token`` field (the page asks for it once; JavaScript keeps it in
the tab's session storage and fills the forms); without a token, a form must carry the CSRF
token of the ``harvestd_csrf`` cookie (double submit: a ``SameSite=Strict``, ``HttpOnly``
cookie that another site can neither read nor send). Cross-site posts are refused before
either by :mod:`daemon.api.guard` (``Origin`` / ``Sec-Fetch-Site``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

from aiohttp import web

CSRF_COOKIE = "harvestd_csrf"


def csrf_token(request: web.Request) -> tuple[str, bool]:
    """The request's CSRF token: (the cookie's, False), or (a new one, True) that
    :func:`set_csrf` must send with the page."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) == 32 and token.isalnum():
        return token, False
    return secrets.token_hex(16), True


def set_csrf(response: web.StreamResponse, token: str) -> None:
    """Send the CSRF cookie (``HttpOnly``, ``SameSite=Strict``)."""
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/")


def check_form(request: web.Request, form: Mapping[str, str], api_token: str | None) -> None:
    """Raise 401 (token configured, ``api_token`` missing or wrong) or 403 (no token
    configured, CSRF field missing or not the cookie's)."""
    if api_token:
        given = str(form.get("api_token", ""))
        if not hmac.compare_digest(given.encode("utf-8", "replace"), api_token.encode()):
            raise web.HTTPUnauthorized(reason="this action needs the API token ([api] token): enter it "
                                              "at the top of the page")
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    given = str(form.get("csrf", ""))
    if not cookie or not hmac.compare_digest(given.encode("utf-8", "replace"), cookie.encode()):
        raise web.HTTPForbidden(reason="missing or wrong CSRF token: reload the page and try again")


def back_to(form: Mapping[str, str], default: str = "/") -> str:
    """Where to go after the action: the form's ``next`` when it is a local path."""
    target = str(form.get("next", ""))
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else default
