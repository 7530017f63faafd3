"""An imitation of Slooh's web API and file hosts on 127.0.0.1 (``shared/reference/slooh.md`` §11).

API (every call a POST of JSON to ``/api/...``, errors inside HTTP 200 answers):
- ``app/generateSessionToken`` → a guest ``sloohSessionToken``;
- ``users/login`` needs ``username`` + ``passwd`` (``password`` is refused) and a guest token
  (cookie ``_sloohsstkn``, or ``sloohSiteSessionToken`` / ``sloohSessionToken`` in the body);
  a bad login answers ``loginError: "true"`` and ``apiError: true``; a login makes every
  earlier user token invalid (one device at a time);
- ``images/getMyPictures`` (photo roll newest first, ``totalCount`` a *string*; ``viewType``
  missions + mission 0 → a single item), ``images/getMissionImages`` (``totalCount`` a
  *number*, ``missionImageCount`` a string), ``images/getMissionFITS`` (``groupList``);
  all authorised on ``at`` / ``cid`` / ``token`` in the body.
Expiry: after ``expire_after_calls`` authenticated calls the token dies, answering either
``apiError`` + in-body ``statusCode`` 401 (``expiry_mode = "401"``) or, silently, an empty
list with ``totalCount`` 0 (``"silent"``); ``always_expire`` kills every token at once,
``refuse_after_calls`` does so after that many authenticated calls (an outage mid-walk).
Slow pages: ``api_delay_s`` delays every list answer; ``api_faults`` makes the next calls
answer HTTP 503 or an HTML maintenance page.
Quirks: trailing spaces in titles, empty telescope/instrument names, ``imageDownloadFilename``
on some pictures only, AP-style dates ("Sept. 3, 2025"), ``imageTimestamp`` on some only,
``overlayData.owner`` "Not available", ``?rand=`` on PNG URLs only, ``.fit`` FITS.
Files: PNGs under ``/polaris2/…`` and FITS under ``/polaris/…`` (the two hosts of §8 as
two path prefixes of this one server), served by :class:`FileSite` (Range, 503s, damaged
bytes, counters); ``?rand=`` is ignored.
Seeded with titles, slugs and telescopes recorded in the reference (§7, §8).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from aiohttp import web
from PIL import Image

from tests.fakes.file_server import FileSite

# (title as recorded, URL slug, telescope, URL prefix, instrument path segment)
TARGETS = [
    ("Orion Nebula (M42) ", "m42", "Canary Two", "teide/2", "widefield"),
    ("Caldwell 105 (NGC 4833)", "ngc4833", "Chile Two", "chile/2", "highmag"),
    ("Horsehead Nebula (Barnard 33)", "barnard33", "Australia One", "aus/1", "highmag"),
    ("Dark Doodad Nebula (DCLD 301.0-08.6)", "dcld301.0-08.6", "Chile Two", "chile/2", "highmag"),
    ("Spica (Alpha Virginis)", "alphavirginis", "Canary Four", "teide/4", "highmag"),
    ("Jupiter's Moons (Galilean Satellites)", "jupiter", "Canary Three", "teide/3", "highmag"),
    ("Veil Nebula (West) (NGC 6960)", "ngc6960", "Canary Two", "teide/2", "widefield"),
    ("Spiral Galaxy M66", "m66", "Chile One", "chile/1", "highmag"),
    ("Bode's Galaxy M81", "m81", "Canary Four", "teide/4", "highmag"),
    ("Quasar 3C273", "3c273", "Australia One", "aus/1", "highmag"),
    ("LMC N49", "lmcn49", "Chile Two", "chile/2", "highmag"),
    ("Saturn", "saturn", "Canary Three", "teide/3", "highmag"),
    ("Full Moon", "fullmoon", "", "teide/2", "widefield"),  # empty telescope name
    ("Messier 45 ", "messier45", "Australia One", "aus/1", "highmag"),
    ("NGC 1977 ", "ngc1977", "Canary Two", "teide/2", "widefield"),
    ("Caldwell 62 ", "caldwell62", "Chile Two", "chile/2", "highmag"),
    ("IC 1788 ", "ic1788", "Canary Four", "teide/4", "highmag"),
    ("Eta Carinae Nebula (NGC 3372)", "ngc3372", "Chile Two", "chile/2", "highmag"),
    ("Caldwell 92 (NGC 3372)", "ngc3372", "Chile Two", "chile/2", "highmag"),
    ("Crab Nebula (M1)", "m1", "Chile One", "chile/1", "highmag"),
]
AP_MONTHS = ["Jan.", "Feb.", "March", "April", "May", "June", "July", "Aug.", "Sept.", "Oct.", "Nov.", "Dec."]
PNG_SUFFIXES = ["lrgb", "l", "m"]
FITS_SUFFIXES = ["l_cal", "r_cal", "g_cal", "b_cal"]
FITS_GROUP = "Main Imager"  # real groupName strings are not recorded (§7)


def ap_date(when: datetime) -> str:
    """AP style: "Feb. 9, 2026", "Sept. 3, 2025", "March 9, 2026"."""
    return f"{AP_MONTHS[when.month - 1]} {when.day}, {when.year}"


def png_bytes(seed: str) -> bytes:
    """A small real PNG whose pixels depend on ``seed``."""
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def fits_bytes(seed: str, side: int = 32) -> bytes:
    """A minimal valid FITS file (primary HDU, 16-bit image), padded to 2880-byte blocks."""
    cards = [f"{'SIMPLE':8}= {'T':>20}", f"{'BITPIX':8}= {16:20d}", f"{'NAXIS':8}= {2:20d}",
             f"{'NAXIS1':8}= {side:20d}", f"{'NAXIS2':8}= {side:20d}",
             "OBSERVER= 'Slooh.com Chile Two Wide-Field Telescope'", f"OBJECT  = '{seed[-60:]}'", "END"]
    header = "".join(c.ljust(80) for c in cards).encode("ascii")
    header += b" " * (-len(header) % 2880)
    rng = np.random.default_rng(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    data = rng.integers(0, 4000, (side, side)).astype(">i2").tobytes()
    data += b"\0" * (-len(data) % 2880)
    return header + data


@dataclass
class Mission:
    """One mission of the account with its pictures and FITS frames."""

    mission_id: int
    title: str
    slug: str
    telescope: str
    prefix: str
    instrument: str
    start: datetime
    pictures: list[dict[str, Any]] = field(default_factory=list)
    fits: list[dict[str, Any]] = field(default_factory=list)


class SloohSite:
    """State of the imitation: the account, sessions, quirks and counters."""

    def __init__(self, missions: int = 12, pictures_per_mission: int = 2, fits_per_mission: int = 2,
                 username: str = "stargazer@example.org", password: str = "hunter2-correct-horse") -> None:
        self.username, self.password = username, password
        self.files = FileSite()
        self.missions: list[Mission] = []
        self._next_image_id = self._top_image_id = 17_399_145
        self._next_mission_id = 4_132_217
        self._clock = datetime(2026, 2, 10, 3, 25, tzinfo=UTC)
        self.guest_tokens: set[str] = set()
        self.user: dict[str, str] | None = None  # the one valid user triple
        self.calls: Counter[str] = Counter()
        self.logins = 0
        self.expire_after_calls: int | None = None
        self.expiry_mode = "401"
        self.always_expire = False
        self.refuse_after_calls: int | None = None  # total authenticated calls, then always_expire
        self.after_call: Any = None  # called with (endpoint, n-th call) after each answer is built
        self.api_faults: list[str] = []  # the next authenticated calls answer "503" or "html" (a proxy page)
        self.api_delay_s = 0.0  # every API answer waits this long (a slow page: ~17 s per 50 at Slooh)
        self._authed_calls = self._total_calls = 0
        for _ in range(missions):
            self.add_mission(pictures_per_mission, fits_per_mission, newest=False)

    # ------------------------------------------------------------------ the account
    def add_mission(self, pictures: int = 2, fits: int = 2, newest: bool = True) -> Mission:
        """A mission with ``pictures`` PNGs and ``fits`` frames: the newest (top of the lists)
        or, while seeding, the next older one."""
        index = len(self.missions)
        title, slug, telescope, prefix, instrument = TARGETS[index % len(TARGETS)]
        if newest:
            start = max(m.start for m in self.missions) + timedelta(hours=3)
            mission_id = max(m.mission_id for m in self.missions) + 41
        else:
            start = self._clock - timedelta(hours=7 * index, minutes=5 * (index % 3))
            mission_id = self._next_mission_id - 37 * index
        mission = Mission(mission_id, title, slug, telescope, prefix, instrument, start)
        for n in range(pictures):
            self._add_picture(mission, n, index, self._image_id(newest))
        for n in range(fits):
            self._add_fits(mission, n, self._image_id(newest))
        self.missions.append(mission)
        self.missions.sort(key=lambda m: m.start, reverse=True)
        return mission

    def _image_id(self, newest: bool) -> int:
        """Image ids grow with time (§5): seeding goes down from the top, later ones go above."""
        if newest:
            self._top_image_id += 3
            return self._top_image_id
        self._next_image_id -= 3
        return self._next_image_id

    def _folder(self, mission: Mission) -> str:
        s = mission.start
        slot = f"{s:%H}{s.minute // 5 * 5:02d}"  # the mission slot start, 5-minute steps (§6)
        return f"{mission.prefix}/{mission.instrument}/{s:%Y/%m/%d}/{slot}_{mission.slug}"

    def _add_picture(self, mission: Mission, n: int, index: int, image_id: int) -> None:
        taken = mission.start + timedelta(minutes=1, seconds=32 + 47 * n)
        rid = hashlib.sha1(f"{mission.mission_id}{n}".encode()).hexdigest()[:6]
        name = f"{mission.slug}_{taken:%Y%m%d_%H%M%S}_{n}_{rid}_{PNG_SUFFIXES[n % 3]}.png"
        path = f"polaris2/{self._folder(mission)}/{name}"
        self.files.files[path] = png_bytes(path)
        record: dict[str, Any] = {
            "imageId": image_id, "customerImageId": image_id - 2_424_000,
            "scheduledMissionId": mission.mission_id, "imageTitle": mission.title,
            "displayDate": ap_date(taken),
            "displayTime": f"{taken:%H:%M:%S} UTC" if n % 2 == 0 else f"{taken:%H:%M} UTC",
            "path": path, "telescopeName": mission.telescope, "instrumentName": "",
            "overlayData": {"owner": "Not available" if index % 3 == 0 else "Ada L."},
            "imageType": "png", "imageIndex": n,
        }
        if index % 2 == 0:
            record["imageTimestamp"] = int(taken.timestamp())
        if n == 0:
            record["imageDownloadFilename"] = name
        mission.pictures.append(record)

    def _add_fits(self, mission: Mission, n: int, image_id: int) -> None:
        taken = mission.start + timedelta(minutes=1, seconds=32 + 47 * n)
        rid = hashlib.sha1(f"fits{mission.mission_id}{n}".encode()).hexdigest()[:6]
        name = f"{mission.slug}_{taken:%Y%m%d_%H%M%S}_{n}_{rid}_{FITS_SUFFIXES[n % 4]}.fit"
        path = f"polaris/{self._folder(mission)}/{name}"
        self.files.files[path] = fits_bytes(path)
        mission.fits.append({"imageId": image_id, "imageTitle": name, "path": path})

    def photo_roll(self) -> list[dict[str, Any]]:
        """Every picture, newest first."""
        return sorted((p for m in self.missions for p in m.pictures), key=lambda p: p["imageId"], reverse=True)

    def all_files(self) -> dict[str, bytes]:
        return dict(self.files.files)

    # ------------------------------------------------------------------ HTTP
    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/app/generateSessionToken", self._session_token)
        app.router.add_post("/api/users/login", self._login)
        app.router.add_post("/api/images/getMyPictures", self._authed(self._pictures))
        app.router.add_post("/api/images/getMissionImages", self._authed(self._missions))
        app.router.add_post("/api/images/getMissionFITS", self._authed(self._fits))
        app.router.add_get("/{path:polaris2?/.+}", self._file)
        return app

    @staticmethod
    def _envelope(**fields: Any) -> web.Response:
        body = {"apiError": False, "errorCode": 0, "errorMsg": "", "statusCode": 200, "lang": "en",
                "ver": "v1", "timestamp": int(datetime.now(UTC).timestamp()), **fields}
        return web.json_response(body)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}

    async def _session_token(self, request: web.Request) -> web.Response:
        self.calls["generateSessionToken"] += 1
        token = secrets.token_hex(16)
        self.guest_tokens.add(token)
        return self._envelope(sloohSessionToken=token)

    async def _login(self, request: web.Request) -> web.Response:
        self.calls["login"] += 1
        body = await self._body(request)
        guest = (request.cookies.get("_sloohsstkn") or body.get("sloohSiteSessionToken")
                 or body.get("sloohSessionToken"))
        if guest not in self.guest_tokens:
            return self._envelope(apiError=True, errorCode=401, statusCode=401,
                                  errorMsg="Session token missing.")
        if "passwd" not in body or body.get("username") != self.username or body["passwd"] != self.password:
            return self._envelope(apiError=True, loginError="true", errorCode=5,
                                  errorMsg="Invalid username or password.")
        self.logins += 1
        self._authed_calls = 0
        self.user = {"cid": "412977", "at": "3", "token": secrets.token_hex(20)}
        return self._envelope(loginError="false", userid="412977", customerUUID="5d0f7a2e-8c1b-11ee-9f3a",
                              fname="Ada", displayName="Ada L.", membershipType="Astronomer",
                              subscriptionPlanName="Slooh Astronomer", status="active", **self.user)

    def _authed(self, handler: Any) -> Any:
        async def wrapped(request: web.Request) -> web.Response:
            name = request.path.rsplit("/", 1)[-1]
            self.calls[name] += 1
            if self.api_delay_s:
                await asyncio.sleep(self.api_delay_s)
            if self.api_faults:
                fault = self.api_faults.pop(0)
                if fault == "503":
                    return web.Response(status=503, text="Service Unavailable")
                return web.Response(text="<html><body>Maintenance</body></html>", content_type="text/html")
            body = await self._body(request)
            user = self.user
            valid = user is not None and all(str(body.get(k)) == user[k] for k in ("cid", "at", "token"))
            if valid:
                self._authed_calls += 1
                self._total_calls += 1
                if self.refuse_after_calls is not None and self._total_calls > self.refuse_after_calls:
                    self.always_expire = True
                limit = self.expire_after_calls
                if self.always_expire or (limit is not None and self._authed_calls > limit):
                    valid = False
            if not valid:
                silent = self.expiry_mode == "silent"
                if silent and user is not None and str(body.get("token")) == user["token"]:
                    return self._envelope(imageCount=0, totalCount="0" if name == "getMyPictures" else 0,
                                          imageList=[], groupList=[])
                return self._envelope(apiError=True, errorCode=401, statusCode=401,
                                      errorMsg="Your session has expired. Please log in again.")
            answer = await handler(request, body)
            if self.after_call is not None:
                self.after_call(name, self.calls[name])
            return answer
        return wrapped

    def _url(self, request: web.Request, path: str, rand: bool) -> str:
        url = f"http://{request.host}/{path}"
        if rand:
            url += f"?rand={datetime.now(UTC).timestamp():.4f}".rstrip("0")
        return url

    @staticmethod
    def _page(items: list[Any], body: dict[str, Any], first_key: str,
              max_key: str) -> tuple[list[Any], int, int]:
        first = max(1, int(body.get(first_key) or 1))
        count = max(1, int(body.get(max_key) or 18))
        return items[first - 1:first - 1 + count], first, count

    async def _pictures(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        roll = self.photo_roll()
        mission_id = int(body.get("scheduledMissionId") or 0)
        if body.get("viewType") == "missions":
            roll = roll[:1] if mission_id == 0 else [p for p in roll if p["scheduledMissionId"] == mission_id]
        page, first, count = self._page(roll, body, "firstImageNumber", "maxImageCount")
        items = []
        for p in page:
            record = {k: v for k, v in p.items() if k != "path"}
            record["imageURL"] = record["imageDownloadURL"] = self._url(request, p["path"], rand=True)
            items.append(record)
        return self._envelope(firstImageNumber=first, maxImageCount=count, imageCount=len(items),
                              totalCount=str(len(roll)), imageList=items, viewType=body.get("viewType"))

    async def _missions(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        page, first, count = self._page(self.missions, body, "firstMissionNumber", "maxMissionCount")
        items = [{
            "scheduledMissionId": m.mission_id, "imageTitle": m.title, "displayDate": ap_date(m.start),
            "displayTime": f"{m.start:%H:%M:%S} UTC",
            "imageURL": self._url(request, m.pictures[0]["path"], rand=True) if m.pictures else "",
            "missionImageCount": str(len(m.pictures)), "missionOwner": "Ada L.",
            "fitsIsAvailable": bool(m.fits), "telescopeName": m.telescope, "instrumentName": "",
        } for m in page]
        return self._envelope(firstMissionNumber=first, maxMissionCount=count, imageCount=len(items),
                              totalCount=len(self.missions), imageList=items)

    async def _fits(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        mission_id = int(body.get("scheduledMissionId") or 0)
        mission = next((m for m in self.missions if m.mission_id == mission_id), None)
        frames = mission.fits if mission else []
        groups = [{"groupIndex": 1, "groupName": FITS_GROUP, "groupImageList": [
            {"imageId": f["imageId"], "imageTitle": f["imageTitle"],
             "imageURL": self._url(request, f["path"], rand=False)} for f in frames]}] if frames else []
        return self._envelope(popupTitleText="Download FITS", missionTitle=mission.title if mission else "",
                              imageCount=len(frames), groupList=groups)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        return await self.files.serve(request, request.match_info["path"])
