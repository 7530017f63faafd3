"""The API described as an OpenAPI 3.1 document, served at ``GET /api/openapi.json``.

Written by hand next to the handlers it describes (OpenAPI Specification 3.1.0,
https://spec.openapis.org/oas/v3.1.0); the test suite checks every operation against the
running daemon with schemathesis (no 5xx, answers that match these schemas).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from daemon.geo.request import GeoRequest

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
ID = {"name": "id", "in": "path", "required": True,
      "schema": {"type": "integer", "minimum": 1, "maximum": (1 << 63) - 1}}
NULLABLE_STR = {"type": ["string", "null"]}
NULLABLE_INT = {"type": ["integer", "null"]}
STAGES = ["queued", "acquiring", "processing", "data_processing", "model_prediction", "completed", "failed"]
TASK = {
    "type": "object",
    "required": ["id", "kind", "params", "stage", "total", "done", "failed", "created_at", "updated_at"],
    "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}, "params": {"type": "object"},
                   "stage": {"enum": STAGES}, "status": {"enum": STAGES},
                   "model_type": {"type": "string"}, "bbox_count": {"type": "integer"},
                   "stages": {"type": "object"}, "detail": {"type": "object"},
                   "total": {"type": "integer"}, "done": {"type": "integer"}, "failed": {"type": "integer"},
                   "error": NULLABLE_STR, "created_at": {"type": "string"}, "updated_at": {"type": "string"}},
}
RESULT = {"type": "object", "required": ["processor", "status"],
          "properties": {"processor": {"type": "string"},
                         "status": {"enum": ["pending", "processing", "completed", "failed"]},
                         "output": {"type": ["object", "null"]}, "error": NULLABLE_STR}}
ITEM = {
    "type": "object", "required": ["id", "source", "key", "status", "metadata", "results"],
    "properties": {"id": {"type": "integer"}, "source": {"type": "string"}, "key": {"type": "string"},
                   "url": NULLABLE_STR, "captured_at": NULLABLE_STR, "metadata": {"type": "object"},
                   "status": {"enum": ["discovered", "downloading", "downloaded", "uploaded", "processing",
                                       "processed", "failed"]},
                   "path": NULLABLE_STR, "bytes": NULLABLE_INT, "sha256": NULLABLE_STR,
                   "results": {"type": "array", "items": RESULT}},
}
CHECK = {"type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}}}
HEALTH = {
    "type": "object", "required": ["status", "failing", "reasons", "checks"],
    "properties": {"status": {"enum": ["ok", "degraded", "unhealthy"]},
                   "failing": {"type": "array", "items": {"type": "string"}},
                   "reasons": {"type": "object", "additionalProperties": {"type": "string"}},
                   "checks": {"type": "object", "additionalProperties": CHECK}},
}
COUNTS = {"type": "object", "required": ["items", "results"],
          "properties": {"items": {"type": "array", "items": {"type": "object"}},
                         "results": {"type": "array", "items": {"type": "object"}}}}
TASK_REQUEST = {
    "oneOf": [
        {"type": "object", "required": ["kind", "source"],
         "properties": {"kind": {"const": "backfill"}, "source": {"type": "string"},
                        "since": {"type": "string"}, "until": {"type": "string"}}},
        {"type": "object", "required": ["kind", "source"],
         "properties": {"kind": {"const": "ingest"}, "source": {"type": "string"}}},
        {"type": "object", "required": ["kind", "processor"],
         "properties": {"kind": {"const": "run_model"}, "processor": {"type": "string"},
                        "items": {"type": "object", "properties": {
                            "source": {"type": "string"},
                            "keys": {"type": "array", "items": {"type": "string"}}}}}},
    ],
}


SOURCE = {"name": "source", "in": "path", "required": True, "schema": {"type": "string"}}
ACTION = {"name": "action", "in": "path", "required": True, "schema": {"enum": ["pause", "resume"]}}
CONTROLS = {"type": "object", "required": ["downloads_paused", "paused_sources"],
            "properties": {"downloads_paused": {"type": "boolean"},
                           "paused_sources": {"type": "array", "items": {"type": "string"}},
                           "changed": {"type": "boolean"}, "paused": {"type": "object"}}}
OBJECT = {"type": "object"}


def _page(operation: str, description: str, params: list[dict[str, Any]], required: list[str],
          csv: bool = False) -> dict[str, Any]:
    """A GET returning one dashboard page's data (404: no such source); ``csv``: also as CSV."""
    ok = _json({"type": "object", "required": required}, "the page's data")
    if csv:
        ok["content"]["text/csv"] = {"schema": {"type": "string"}}
    return {"get": {"operationId": operation, "description": description, "parameters": params,
                    "responses": {"200": ok, **_errors(400, 404, 421)}}}


def _query(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": {"type": "string"}} for n in names]


def _dashboard_paths(writes: tuple[int, ...]) -> dict[str, Any]:
    """The dashboard's JSON: each page's data, the controls and retries."""
    post = {"responses": {"200": _json(CONTROLS, "the controls now"), **_errors(*writes, 404)}}
    return {
        "/api/overview": _page("overview", "The overview page: sources, downloader, worker, library, event "
                               "loop, controls.", [], ["status", "sources", "downloader", "worker", "library"]),
        "/api/gallery/{source}": _page(
            "gallery", "One gallery page (48 items, newest first).",
            [SOURCE, *_query("status", "since", "until"),
             {"name": "page", "in": "query",
              "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000}}],
            ["source", "items", "total", "page", "pages"]),
        "/api/sky/{source}": _page("sky", "Octas and cloud fraction of a sky camera over a day, week or "
                                   "month (format=csv: a CSV file).",
                                   [SOURCE, {"name": "range", "in": "query",
                                             "schema": {"enum": ["day", "week", "month"]}},
                                    {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}}],
                                   [], csv=True),
        "/api/iss/{source}": _page("issPhotos", "ISS photo centre and nadir points with map positions.",
                                   [SOURCE, *_query("mission", "since", "until", "camera", "max_cloud")],
                                   ["source", "photos"]),
        "/api/telescope/{source}": _page("telescope", "Counts by object × telescope × format; one object's "
                                         "frames.", [SOURCE, *_query("object")], ["source", "counts"]),
        "/api/queues": _page("queues", "Counts per status, failure codes, failed items, tasks.",
                             _query("source", "code"), ["counts", "failed", "tasks"]),
        "/api/controls": {"get": {"operationId": "controls", "responses": {
            "200": _json(CONTROLS, "what is paused"), **_errors(421)}}},
        "/api/controls/downloads/{action}": {"post": {"operationId": "controlDownloads",
                                                      "parameters": [ACTION], **post}},
        "/api/controls/sources/{name}/{action}": {"post": {
            "operationId": "controlSource",
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                           ACTION], **post}},
        "/api/items/{id}/retry": {"post": {"operationId": "retryItem", "parameters": [ID], "responses": {
            "200": _json({"type": "object", "properties": {"retried": {"type": "integer"}}}, "requeued"),
            **_errors(*writes, 404)}}},
        "/api/retry": {"post": {"operationId": "retry", "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "object", "additionalProperties": False, "properties": {
                "source": {"type": "string"}, "code": {"type": "string"}}}}}}, "responses": {
            "200": _json({"type": "object", "properties": {"retried": {"type": "integer"}}}, "requeued"),
            **_errors(*writes, 408, 413)}}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    words = {400: "a malformed request (the reason says which part)", 401: "a missing or wrong bearer token",
             403: "a cross-site write", 404: "not found", 408: "the body did not arrive in time",
             413: "too large (bytes or pixels)", 415: "the wrong media type, or not a decodable image",
             421: "a Host header this API does not answer to", 503: "busy (uploads) or unhealthy"}
    return {str(c): _json(ERROR, words[c]) for c in codes}


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of :func:`daemon.api.app.build_app`."""
    guarded = (421,)
    writes = (400, 401, 403, 415, 421)
    return {
        "openapi": "3.1.0",
        "info": {"title": "harvestd", "version": "1",
                 "description": "The daemon's HTTP API: health, queues, metrics, uploads and tasks."},
        "paths": {
            "/api/health": {"get": {"operationId": "health", "responses": {
                "200": _json(HEALTH, "ok, or degraded (a source is failing)"),
                "503": _json(HEALTH, "unhealthy: a process check fails"), **_errors(*guarded)}}},
            "/api/queues/status": {"get": {"operationId": "queueStatus", "responses": {
                "200": _json(COUNTS, "items and results per status"), **_errors(*guarded)}}},
            "/metrics": {"get": {"operationId": "metrics", "responses": {
                "200": {"description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}}}, **_errors(*guarded)}}},
            "/api/openapi.json": {"get": {"operationId": "openapi", "responses": {
                "200": _json({"type": "object"}, "this document"), **_errors(*guarded)}}},
            "/api/uploads": {"post": {
                "operationId": "upload",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object", "required": ["file"],
                    "properties": {"file": {"type": "string", "contentMediaType": "application/octet-stream"},
                                   "metadata": {"type": "string"}}}}}},
                "responses": {"202": _json({"type": "object", "required": ["id", "status", "path"],
                                            "properties": {"id": {"type": "integer"},
                                                           "status": {"const": "uploaded"},
                                                           "path": {"type": "string"},
                                                           "processors": {"type": "array"}}}, "received"),
                              **_errors(*writes, 408, 413, 503)}}},
            "/api/items/{id}": {"get": {"operationId": "item", "parameters": [ID], "responses": {
                "200": _json(ITEM, "the item with its results"), **_errors(400, 404, *guarded)}}},
            "/api/tasks": {
                "post": {"operationId": "createTask",
                         "requestBody": {"required": True,
                                         "content": {"application/json": {"schema": TASK_REQUEST}}},
                         "responses": {"202": _json({"type": "object", "required": ["id", "kind", "stage"],
                                                     "properties": {"id": {"type": "integer"},
                                                                    "kind": {"type": "string"},
                                                                    "stage": {"const": "queued"}}}, "queued"),
                                       **_errors(*writes, 408, 413)}},
                "get": {"operationId": "listTasks", "parameters": [
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
                    "responses": {"200": _json({"type": "object",
                                                "required": ["tasks", "total", "limit", "offset"],
                                                "properties": {"tasks": {"type": "array", "items": TASK},
                                                               "total": {"type": "integer"},
                                                               "limit": {"type": "integer"},
                                                               "offset": {"type": "integer"}}}, "one page"),
                                  **_errors(400, *guarded)}}},
            "/api/task/{id}": {"get": {"operationId": "task", "parameters": [ID], "responses": {
                "200": _json(TASK, "the task"), **_errors(400, 404, *guarded)}}},
            "/api/run-model": {"post": {
                "operationId": "runModel",
                "description": "A geo model task: satellite chips for bounding boxes, then a model "
                               "(the InstaGeo backend's request). Caps: [geo] in the config.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": GeoRequest.model_json_schema()}}},
                "responses": {"202": _json({"type": "object", "required": ["id", "kind", "status", "stage"],
                                            "properties": {"id": {"type": "integer"},
                                                           "kind": {"const": "geo_model"},
                                                           "status": {"const": "data_processing"},
                                                           "stage": {"const": "data_processing"}}},
                                           "created (follow it at /api/task/{id})"),
                              **_errors(*writes, 408, 413)}}},
            **_dashboard_paths(writes),
        },
    }


async def get_openapi(request: web.Request) -> web.Response:
    """``GET /api/openapi.json``: :func:`document`."""
    return web.json_response(document())
