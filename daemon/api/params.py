"""Small request helpers shared by the API handlers."""

from __future__ import annotations

from aiohttp import web


def path_id(request: web.Request, what: str) -> int:
    """The integer ``{id}`` of the route. Raises HTTPBadRequest (400) naming ``what``."""
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPBadRequest(reason=f"{what} id must be an integer") from None
