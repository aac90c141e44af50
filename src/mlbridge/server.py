"""The web server: the page, the bundle's web files, TF.js from node_modules, and lookups.

Safe by default: it binds 127.0.0.1, serves files only from three fixed folders (no
path leaves them), queries SQLite with bound parameters only, and answers bad input
with a 4xx JSON message rather than a 500.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from starlette.exceptions import HTTPException

from mlbridge.bundle import Bundle
from mlbridge.errors import VerifyError
from mlbridge.records import MAX_KEY_LENGTH, MAX_LIMIT, RecordStore

WEB_DIR = Path(__file__).resolve().parent / "web"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The ES-module build of the pinned @tensorflow/tfjs package, installed by `make setup`.
TFJS_FILE = "tf.fesm.min.js"
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
}


def tfjs_dir() -> Path:
    """Where the TF.js runtime is: `MLBRIDGE_NODE_MODULES` or the project's node_modules."""
    modules = Path(os.environ.get("MLBRIDGE_NODE_MODULES", PROJECT_ROOT / "node_modules"))
    return modules / "@tensorflow" / "tfjs" / "dist"


#: The report is one self-contained page with an inline stylesheet and local images.
_REPORT_HEADERS = {**_HEADERS, "Content-Security-Policy": "default-src 'none'; "
                   "img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'"}


def safe_file(root: Path, relative: str, headers: dict[str, str] = _HEADERS) -> FileResponse:
    """A file under `root`, or 404: `..`, absolute paths and links out of `root` all fail."""
    root = root.resolve()
    target = (root / relative.lstrip("/")).resolve()
    if relative.startswith("/") or not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(404, "not found")
    media = "text/javascript" if target.suffix in (".js", ".mjs") else None
    return FileResponse(target, headers=headers, media_type=media)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=_HEADERS)


def create_app(bundle: Bundle, records: RecordStore | None = None) -> FastAPI:
    """The app for one bundle; `records` enables the lookup API (else it answers 503)."""
    app = FastAPI(title="mlbridge", docs_url=None, redoc_url=None, openapi_url=None)
    name = bundle.path.name
    model_url = f"/models/{name}/web/"

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", [])[1:])
        return _error(422, f"{where}: {first.get('msg', 'invalid value')}")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return safe_file(WEB_DIR, "index.html")

    @app.get("/static/{path:path}", include_in_schema=False)
    def static(path: str) -> FileResponse:
        return safe_file(WEB_DIR, path)

    @app.get("/vendor/tfjs/{path:path}", include_in_schema=False)
    def tfjs(path: str) -> FileResponse:
        if path not in (TFJS_FILE, TFJS_FILE + ".map"):
            raise HTTPException(404, "not found")
        return safe_file(tfjs_dir(), path)

    @app.get("/models/{bundle_name}/web/{path:path}", include_in_schema=False)
    def model_file(bundle_name: str, path: str) -> FileResponse:
        if bundle_name != name:
            raise HTTPException(404, "not found")
        return safe_file(bundle.path / "web", path)

    @app.get("/models/{bundle_name}/report.html", include_in_schema=False)
    def report(bundle_name: str) -> FileResponse:
        if bundle_name != name:
            raise HTTPException(404, "not found")
        return safe_file(bundle.path, "report.html", _REPORT_HEADERS)

    @app.get("/models/{bundle_name}/plots/{path:path}", include_in_schema=False)
    def plot(bundle_name: str, path: str) -> FileResponse:
        if bundle_name != name:
            raise HTTPException(404, "not found")
        return safe_file(bundle.path / "plots", path)

    @app.get("/api/config")
    def config() -> dict:
        return {"model_url": model_url, "key": bundle.metadata.get("key") if records else None,
                "report_url": f"/models/{name}/report.html"
                if (bundle.path / "report.html").is_file() else None}

    def store() -> RecordStore:
        if records is None:
            raise HTTPException(503, "this server has no record data (start it with --data)")
        return records

    @app.get("/api/records/{key}")
    def record(key: str) -> dict:
        if len(key) > MAX_KEY_LENGTH:
            raise HTTPException(414, f"key longer than {MAX_KEY_LENGTH} characters")
        found = store().get(key.strip())
        if found is None:
            raise HTTPException(404, f"no record with {bundle.metadata.get('key')} '{key}'")
        return found

    @app.get("/api/records")
    def search(prefix: str = Query("", max_length=MAX_KEY_LENGTH),
               limit: int = Query(10, ge=1, le=MAX_LIMIT)) -> dict:
        prefix = prefix.strip()
        return {"keys": store().keys_with_prefix(prefix, limit) if prefix else []}

    @app.get("/healthz")
    def health() -> dict:
        model_ok = (bundle.path / "web" / "model.json").is_file()
        rows = store().count() if records is not None else None
        if not model_ok:
            raise HTTPException(503, "model files are missing")
        return {"status": "ok", "bundle": name, "records": rows}

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        for header, value in _HEADERS.items():
            response.headers.setdefault(header, value)
        return response

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
