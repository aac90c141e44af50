"""Serve fixed directories on 127.0.0.1 from a background thread, with the standard library.

The parity check needs a real origin (ES modules and `fetch` do not work from `file://`),
and static sites need the same thing; a web framework would be a heavy dependency for
three directories. Only the mapped directories are served, nothing above them, on an
ephemeral port chosen by the system, and `.js`/`.mjs` as `text/javascript` (browsers
refuse module scripts served as `text/plain`, which some systems' MIME tables give).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import unquote, urlsplit

#: Types the stdlib table may get wrong or lack; the rest come from `mimetypes`.
MIME_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".json": "application/json",
              ".wasm": "application/wasm", ".bin": "application/octet-stream",
              ".html": "text/html", ".css": "text/css", ".svg": "image/svg+xml",
              ".map": "application/json", ".ts": "text/plain"}


#: The security headers of every page mlbridge serves (server.py) and of verify's page:
#: scripts from the page's origin only, plus 'wasm-unsafe-eval', without which Chromium
#: refuses to compile WebAssembly (TF.js's wasm backend, LiteRT.js).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; "
    "img-src 'self' data:; style-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'",
}


def _normalize_mounts(mounts: Mapping[str, str | Path]) -> list[tuple[str, Path]]:
    """`{"/vendor/tfjs": dir}` → `[("/vendor/tfjs/", resolved dir)]`, longest prefix first."""
    normalized = []
    for prefix, directory in mounts.items():
        prefix = "/" + prefix.strip("/")
        prefix = prefix if prefix == "/" else prefix + "/"
        normalized.append((prefix, Path(directory).resolve()))
    return sorted(normalized, key=lambda item: len(item[0]), reverse=True)


def resolve(mounts: list[tuple[str, Path]], url_path: str) -> Path | None:
    """The file a URL path names, or None when it is outside every mounted directory.

    `..` and symlinks are resolved first and the result must still be inside the
    directory of the prefix that matched, so no request reaches a file beside it.
    """
    path = unquote(urlsplit(url_path).path)
    if "\0" in path:
        return None
    for prefix, directory in mounts:
        if prefix == "/" or path.startswith(prefix) or path + "/" == prefix:
            rest = path[len(prefix):] if path.startswith(prefix) else ""
            candidate = (directory / rest.lstrip("/")).resolve()
            if candidate == directory or candidate.is_relative_to(directory):
                return candidate
            return None
    return None


class _Handler(SimpleHTTPRequestHandler):
    """GET/HEAD only, files only from the mounts, no directory listings, no logging."""

    extensions_map: ClassVar[dict[str, str]] = {**SimpleHTTPRequestHandler.extensions_map,
                                                **MIME_TYPES}

    def __init__(self, *args, mounts: list[tuple[str, Path]], headers: Mapping[str, str],
                 **kwargs) -> None:
        self.mounts = mounts
        self.headers_to_send = headers
        super().__init__(*args, **kwargs)

    def send_head(self):
        if resolve(self.mounts, self.path) is None:
            self.send_error(404, "Not found")
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        found = resolve(self.mounts, path)
        return str(found) if found is not None else ""

    def list_directory(self, path):
        self.send_error(404, "No listing")
        return None

    def end_headers(self) -> None:
        for name, value in {"X-Content-Type-Options": "nosniff",
                            **self.headers_to_send}.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:
        pass


class LocalServer:
    """A running server: its base `url` (no trailing slash) and the mounts it serves."""

    def __init__(self, httpd: ThreadingHTTPServer, mounts: list[tuple[str, Path]]) -> None:
        self.httpd = httpd
        self.mounts = mounts
        host, port = httpd.server_address[:2]
        self.url = f"http://{host}:{port}"


@contextmanager
def serve(mounts: Mapping[str, str | Path], port: int = 0,
          headers: Mapping[str, str] | None = None) -> Iterator[LocalServer]:
    """Serve `{url prefix: directory}` on 127.0.0.1 for the duration of the block.

    `port=0` lets the system pick a free port (read it from `.url`), so parallel runs
    and tests never collide. `headers` are added to every response.
    """
    normalized = _normalize_mounts(mounts)
    for _, directory in normalized:
        if not directory.is_dir():
            raise FileNotFoundError(f"not a directory: {directory}")
    httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(_Handler, mounts=normalized,
                                                             headers=dict(headers or {})))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="mlbridge-localhttp",
                              daemon=True)
    thread.start()
    try:
        yield LocalServer(httpd, normalized)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
