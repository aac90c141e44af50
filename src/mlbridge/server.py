"""The web server: the page, the bundle's web files, TF.js, and record lookups.

Safe by default: it binds 127.0.0.1, serves files only from fixed folders (no path
leaves them), queries SQLite with bound parameters only, and answers bad input with a
4xx JSON message rather than a 500. Fast where it is hit most: files are kept in memory
with an ETag and Last-Modified (a browser revalidates with a 304), the versioned TF.js
file is cacheable for a year, and handlers run on the event loop with no thread hop.
"""

from __future__ import annotations

import mimetypes
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from mlbridge.bundle import Bundle
from mlbridge.errors import VerifyError
from mlbridge.localhttp import MIME_TYPES, SECURITY_HEADERS
from mlbridge.records import MAX_KEY_LENGTH, MAX_LIMIT, RecordStore
from mlbridge.resources import NOTICES, VENDORED, WEB_DIR

_HEADERS = SECURITY_HEADERS
#: The report is one self-contained page with an inline stylesheet and local images.
_REPORT_HEADERS = {**_HEADERS, "Content-Security-Policy": "default-src 'none'; "
                   "img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"}
#: Files that change when a bundle is retrained: cache, but ask (ETag) every time.
REVALIDATE = "no-cache"
#: A file whose URL names its version: it never changes under that URL.
FOREVER = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class _Cached:
    body: bytes
    etag: str
    modified: str
    stamp: tuple[int, int]


class FileCache:
    """Files held in memory with their validators, read again when they change on disk."""

    def __init__(self) -> None:
        self._files: dict[Path, _Cached] = {}

    def response(self, request: Request, path: Path, cache_control: str,
                 headers: dict[str, str]) -> Response:
        """The file as a 200, or a 304 when the browser's copy (If-None-Match) is current."""
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = self._files.get(path)
        if cached is None or cached.stamp != stamp:
            cached = _Cached(path.read_bytes(), f'"{stamp[1]:x}-{stamp[0]:x}"',
                             formatdate(stat.st_mtime, usegmt=True), stamp)
            self._files[path] = cached
        validators = {**headers, "ETag": cached.etag, "Last-Modified": cached.modified,
                      "Cache-Control": cache_control}
        if request.headers.get("if-none-match") == cached.etag:
            return Response(status_code=304, headers=validators)
        media = MIME_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or \
            "application/octet-stream"
        return Response(cached.body, media_type=media, headers=validators)


def safe_path(root: Path, relative: str) -> Path:
    """A file under `root`, or 404: `..`, absolute paths and links out of `root` all fail."""
    root = root.resolve()
    target = (root / relative.lstrip("/")).resolve()
    if relative.startswith("/") or not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, "not found")
    return target


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_HEADERS)


class SecurityHeaders:
    """Add the security headers to every response that does not set its own (pure ASGI:
    Starlette's `@app.middleware("http")` wraps each response in a stream, which cost
    more than the request itself)."""

    _RAW = tuple((k.lower().encode(), v.encode()) for k, v in _HEADERS.items())

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                present = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *[(k, v) for k, v in self._RAW if k not in present]]
            await send(message)

        await self.app(scope, receive, with_headers)


def page_config(name: str, key: str | None, lookup: dict | None, has_report: bool,
                runtimes: list[str]) -> dict:
    """What the page reads first (`config.json`): the model, the report, the lookup (each
    a URL relative to the page, so the same page works at any path), and the runtimes
    served with it (the page's switch offers those, and "auto" chooses among them)."""
    return {"model_url": f"models/{name}/web/", "key": key if lookup else None,
            "report_url": f"models/{name}/report.html" if has_report else None,
            "lookup": lookup, "runtimes": runtimes}


def page_runtimes(metadata: dict) -> list[str]:
    """The in-browser runtimes a bundle has files for (runtimes.py)."""
    from mlbridge.runtimes import RUNTIMES, NodeRuntime

    return [r.name for r in RUNTIMES if not isinstance(r, NodeRuntime) and not r.missing(metadata)]


def create_app(bundle: Bundle, records: RecordStore | None = None) -> FastAPI:
    """The app for one bundle; `records` enables the lookup API (else it answers 503)."""
    app = FastAPI(title="mlbridge", docs_url=None, redoc_url=None, openapi_url=None)
    name = bundle.path.name
    files = FileCache()
    lookup = {"kind": "api", "url": "api/records"} if records is not None else None
    settings = page_config(name, bundle.metadata.get("key"), lookup,
                           (bundle.path / "report.html").is_file(),
                           page_runtimes(bundle.metadata))

    def serve(request: Request, root: Path, path: str, cache_control: str = REVALIDATE,
              headers: dict[str, str] = _HEADERS) -> Response:
        return files.response(request, safe_path(root, path), cache_control, headers)

    def this_bundle(bundle_name: str) -> None:
        if bundle_name != name:
            raise HTTPException(404, "not found")

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", [])[1:])
        return _error(422, f"{where}: {first.get('msg', 'invalid value')}")

    @app.get("/", include_in_schema=False)
    async def page(request: Request) -> Response:
        return serve(request, WEB_DIR, "index.html")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon(request: Request) -> Response:
        # Pages link static/favicon.svg; this answers browsers that ask anyway.
        return serve(request, WEB_DIR, "favicon.svg")

    @app.get("/config.json", include_in_schema=False)
    async def config() -> JSONResponse:
        return JSONResponse(settings, headers={"Cache-Control": REVALIDATE})

    @app.get("/static/{path:path}", include_in_schema=False)
    async def static(request: Request, path: str) -> Response:
        return serve(request, WEB_DIR, path)

    @app.get("/vendor/{package}/{version}/{path:path}", include_in_schema=False)
    async def vendored(request: Request, package: str, version: str, path: str) -> Response:
        runtime = VENDORED.get(package)
        if runtime is None or version != runtime.version:
            raise HTTPException(404, "not found")
        cache = REVALIDATE if path in NOTICES else FOREVER
        return serve(request, runtime.folder, path, cache)

    @app.get("/models/{bundle_name}/web/{path:path}", include_in_schema=False)
    async def model_file(request: Request, bundle_name: str, path: str) -> Response:
        this_bundle(bundle_name)
        return serve(request, bundle.path / "web", path)

    @app.get("/models/{bundle_name}/report.html", include_in_schema=False)
    async def report(request: Request, bundle_name: str) -> Response:
        this_bundle(bundle_name)
        return serve(request, bundle.path, "report.html", headers=_REPORT_HEADERS)

    @app.get("/models/{bundle_name}/plots/{path:path}", include_in_schema=False)
    async def plot(request: Request, bundle_name: str, path: str) -> Response:
        this_bundle(bundle_name)
        return serve(request, bundle.path / "plots", path)

    def store() -> RecordStore:
        if records is None:
            raise HTTPException(503, "this server has no record data (start it with --data)")
        return records

    # Lookups run on the event loop: an indexed SQLite read takes well under a
    # millisecond, less than handing the request to a worker thread and back.
    @app.get("/api/records/{key}")
    async def record(key: str) -> JSONResponse:
        if len(key) > MAX_KEY_LENGTH:
            raise HTTPException(414, f"key longer than {MAX_KEY_LENGTH} characters")
        found = store().get(key.strip())
        if found is None:
            raise HTTPException(404, f"no record with {bundle.metadata.get('key')} '{key}'")
        return JSONResponse(found)

    @app.get("/api/records")
    async def search(prefix: str = Query("", max_length=MAX_KEY_LENGTH),
                     limit: int = Query(10, ge=1, le=MAX_LIMIT)) -> JSONResponse:
        prefix = prefix.strip()
        return JSONResponse({"keys": store().keys_with_prefix(prefix, limit) if prefix else []})

    @app.get("/healthz")
    async def health() -> JSONResponse:
        model_ok = (bundle.path / "web" / "model.json").is_file()
        rows = store().count() if records is not None else None
        if not model_ok:
            raise HTTPException(503, "model files are missing")
        return JSONResponse({"status": "ok", "bundle": name, "records": rows})

    app.add_middleware(SecurityHeaders)
    return app


def open_records(bundle: Bundle, data: str | Path | None = None,
                 key: str | None = None) -> RecordStore | None:
    """Build the lookup database for `bundle`: from `data`, else the data it was trained on.

    Returns None when there is no key column to look records up by.
    """
    from mlbridge.records import build_store

    key = key or bundle.metadata.get("key")
    if key is None:
        return None
    source = data or bundle.metadata["data"]["source"]
    sep = None if data else bundle.metadata["data"].get("sep")
    return build_store(source, key, bundle.metadata["inputs"], bundle.path / "records.sqlite",
                       sep)


class BackgroundServer:
    """Run an app with uvicorn in a thread on a free local port (for verify and tests)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise VerifyError("the local web server did not start")
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
