"""The body of ``POST /api/run-model`` (the InstaGeo backend's, as written) and its caps.

``bboxes``: ``[min lon, min lat, max lon, max lat]`` in WGS84 degrees; ``date``: the newest
step (UTC day); steps are ``date − k·temporal_step`` days, ``k = 0 … num_steps − 1``, each
matched within ± ``temporal_tolerance`` days; ``cloud_coverage``: the highest scene
``eo:cloud_cover`` accepted, %; ``chip_size``: pixels per chip side; ``data_source``: ``S2``
(Sentinel-2 L2A) or ``HLS``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from daemon.errors import InputError
from daemon.geo.bands import DATA_SOURCES
from daemon.geo.config import GeoModelSettings, GeoSettings
from daemon.geo.grid import bbox_area_km2, chip_grid
from daemon.geo.indices import INDICES

BBox = tuple[float, float, float, float]


class GeoRequestError(InputError):
    """A geo task request that is malformed or over a cap (HTTP 400 with this reason)."""


class GeoRequest(BaseModel):
    """A validated request (see the module doc for the fields)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bboxes: list[BBox] = Field(min_length=1)
    model_type: str
    date: dt.date
    chip_size: int = Field(256, ge=16)
    cloud_coverage: float = Field(10.0, ge=0, le=100)
    num_steps: int = Field(1, ge=1)
    data_source: Literal["S2", "HLS"] = "S2"
    temporal_step: int = Field(30, ge=1, le=3660)
    temporal_tolerance: int = Field(5, ge=0, le=365)

    @field_validator("bboxes")
    @classmethod
    def _valid_boxes(cls, v: list[BBox]) -> list[BBox]:
        for i, (w, s, e, n) in enumerate(v):
            where = f"bboxes[{i}] {[w, s, e, n]}"
            if not all(-180.0 <= x <= 180.0 for x in (w, e)):
                raise ValueError(f"{where}: longitudes must be within -180…180")
            if not all(-90.0 <= y <= 90.0 for y in (s, n)):
                raise ValueError(f"{where}: latitudes must be within -90…90")
            if not (w < e and s < n):
                raise ValueError(f"{where}: needs min lon < max lon and min lat < max lat "
                                 "(a box across the antimeridian must be split in two)")
        return v

    def step_dates(self) -> list[dt.date]:
        """The steps' dates, oldest first."""
        return sorted(self.date - dt.timedelta(days=k * self.temporal_step) for k in range(self.num_steps))

    def bands(self, models: Mapping[str, GeoModelSettings]) -> list[str]:
        """The bands the model needs, in its order."""
        if self.model_type in INDICES:
            return list(INDICES[self.model_type].bands)
        return list(models[self.model_type].bands)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])


def check_geo_request(body: Any, settings: GeoSettings,
                      models: Mapping[str, GeoModelSettings]) -> GeoRequest:
    """Validate ``body`` against the schema, the models and ``[geo]``'s caps.

    Blocking (projects the bboxes with PROJ): call it in a thread from the event loop.

    Raises:
        GeoRequestError: the reason, naming the field and the cap.
    """
    if not isinstance(body, dict):
        raise GeoRequestError("the body must be a JSON object")
    try:  # strict, as JSON: "256" is not a number, true is not 1 (a date string is a date)
        req = GeoRequest.model_validate_json(json.dumps(body), strict=True)
    except ValidationError as exc:
        raise GeoRequestError(_first_error(exc)) from None
    if req.model_type not in INDICES and req.model_type not in models:
        known = sorted([*INDICES, *models])
        raise GeoRequestError(f"unknown model_type {req.model_type!r} (one of {', '.join(known)})")
    model = models.get(req.model_type)
    if model is not None and req.chip_size != model.input_size:
        raise GeoRequestError(f"model {req.model_type!r} takes {model.input_size}-pixel chips: "
                              f"chip_size is {req.chip_size}")
    if model is not None and req.num_steps < model.steps:
        raise GeoRequestError(f"model {req.model_type!r} stacks {model.steps} temporal steps: "
                              f"num_steps is {req.num_steps}")
    caps = (("bboxes", len(req.bboxes), settings.max_bboxes, "max_bboxes"),
            ("chip_size", req.chip_size, settings.max_chip_size, "max_chip_size"),
            ("num_steps", req.num_steps, settings.max_steps, "max_steps"))
    for name, value, cap, key in caps:
        if value > cap:
            raise GeoRequestError(f"{name} is {value}, over the cap of {cap} ([geo] {key})")
    for i, box in enumerate(req.bboxes):
        area = bbox_area_km2(box)
        if area > settings.max_bbox_km2:
            raise GeoRequestError(f"bboxes[{i}] covers {area:,.0f} km², over the cap of "
                                  f"{settings.max_bbox_km2:,.0f} km² ([geo] max_bbox_km2)")
    resolution = DATA_SOURCES[req.data_source].resolution_m
    grids = [chip_grid(box, req.chip_size, resolution) for box in req.bboxes]
    chips = sum(g.rows * g.cols for g in grids) * req.num_steps
    if chips > settings.max_chips:
        raise GeoRequestError(f"the task needs {chips} chips (chip grids × {req.num_steps} steps), over the "
                              f"cap of {settings.max_chips} ([geo] max_chips): use fewer or smaller boxes")
    stack_bytes = req.chip_size ** 2 * len(req.bands(models)) * req.num_steps * 4
    if stack_bytes > settings.max_chip_bytes:
        raise GeoRequestError(f"one chip stack takes {stack_bytes >> 20} MiB, over the cap of "
                              f"{settings.max_chip_bytes >> 20} MiB ([geo] max_chip_bytes)")
    return req
