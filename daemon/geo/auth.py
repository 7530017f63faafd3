"""NASA Earthdata Login (EDL) for HLS COGs on LP DAAC's protected hosts.

Credentials come from the daemon's environment, never the config file: ``EARTHDATA_TOKEN``
(an EDL bearer token), or ``EARTHDATA_USERNAME`` + ``EARTHDATA_PASSWORD``, exchanged once per
process for a token by ``POST {token_url}`` with HTTP basic auth, as earthaccess does
(``https://urs.earthdata.nasa.gov/api/users/find_or_create_token``; the answer is
``{"access_token": …}``). GDAL then sends ``Authorization: Bearer`` with its range requests
(``GDAL_HTTP_AUTH=BEARER``, ``GDAL_HTTP_BEARER``, GDAL ≥ 3.9; ``stac_sentinel2.md`` §3).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from typing import Any

from daemon.errors import InputError
from daemon.http import HttpClient

EDL_TOKEN_URL = "https://urs.earthdata.nasa.gov/api/users/find_or_create_token"
MISSING = ("data_source HLS needs Earthdata Login credentials in the daemon's environment: "
           "EARTHDATA_TOKEN, or EARTHDATA_USERNAME and EARTHDATA_PASSWORD")


class EarthdataError(InputError):
    """No usable Earthdata Login credentials (the reason)."""


def has_credentials(environ: Mapping[str, str] = os.environ) -> bool:
    """True when a token, or a user name and a password, are set."""
    return bool(environ.get("EARTHDATA_TOKEN")
                or (environ.get("EARTHDATA_USERNAME") and environ.get("EARTHDATA_PASSWORD")))


class Earthdata:
    """The bearer token of this process (fetched at most once)."""

    def __init__(self, http: HttpClient, token_url: str = EDL_TOKEN_URL,
                 environ: Mapping[str, str] = os.environ) -> None:
        self.http = http
        self.token_url = token_url
        self.environ = environ
        self._token: str | None = None

    async def token(self) -> str:
        """The token: ``EARTHDATA_TOKEN``, or one EDL makes for the user name and password.

        Raises:
            EarthdataError: no credentials, or EDL's answer holds no token.
            HttpError: EDL refused (401: a wrong password) or could not be reached.
        """
        if self._token is None:
            given = self.environ.get("EARTHDATA_TOKEN")
            if given:
                self._token = given
            else:
                user = self.environ.get("EARTHDATA_USERNAME")
                password = self.environ.get("EARTHDATA_PASSWORD")
                if not (user and password):
                    raise EarthdataError(MISSING)
                basic = base64.b64encode(f"{user}:{password}".encode()).decode()
                raw = await self.http.post_json(self.token_url, None,
                                                headers={"Authorization": f"Basic {basic}"})
                try:
                    answer: Any = json.loads(raw)
                    self._token = str(answer["access_token"])
                except (ValueError, KeyError, TypeError):
                    raise EarthdataError(f"{self.token_url}: the answer holds no access_token") from None
        return self._token

    async def gdal_env(self) -> dict[str, str]:
        """GDAL options that send the token with every request of a read."""
        return {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": await self.token()}
