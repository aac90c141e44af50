"""The HTTP API over real HTTP on 127.0.0.1, with the real SQLite lookup."""

from __future__ import annotations

import json
import sqlite3
import urllib.error
import urllib.request

import pytest
from conftest import ARTISTS, write_csv

from mlbridge.records import build_store


def get(url: str) -> tuple[int, dict | bytes, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body, status, headers = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        body, status, headers = error.read(), error.code, dict(error.headers)
    if headers.get("content-type", "").startswith("application/json"):
        return status, json.loads(body), headers
    return status, body, headers


def test_health_and_config(live_server):
    status, body, _ = get(f"{live_server}/healthz")
    assert status == 200 and body == {"status": "ok", "bundle": "artists", "records": 1767}
    status, body, _ = get(f"{live_server}/config.json")
    assert body["model_url"] == "models/artists/web/" and body["key"] == "handle"  # relative
    assert body["runtimes"] == ["tfjs-cpu", "tfjs-wasm", "tfjs-webgl", "tfjs-webgpu",
                                "litert-wasm", "litert-webgpu", "standalone"]
    assert body["lookup"] == {"kind": "api", "url": "api/records"}


def test_lookup_of_a_known_key(live_server):
    status, body, _ = get(f"{live_server}/api/records/taylorswift13")
    assert status == 200
    assert body == {"key": "taylorswift13", "features": {"twitter_followers": 95307659.0}}
    status, body, _ = get(f"{live_server}/api/records/TaylorSwift13")  # case-insensitive
    assert status == 200 and body["key"] == "taylorswift13"


def test_repeated_key_answers_with_the_first_row_of_the_file(live_server):
    # selenagomez appears twice: 66,325,495 followers first, then 66,325,135.
    status, body, _ = get(f"{live_server}/api/records/selenagomez")
    assert status == 200 and body["features"]["twitter_followers"] == 66325495.0


def test_unknown_key_is_a_json_404(live_server):
    status, body, _ = get(f"{live_server}/api/records/nobody_at_all")
    assert status == 404 and "nobody_at_all" in body["error"]


def test_autocomplete_by_prefix(live_server):
    status, body, _ = get(f"{live_server}/api/records?prefix=tay&limit=3")
    assert status == 200 and body == {"keys": ["tayk", "taylor_dayne", "taylorswift13"]}
    status, body, _ = get(f"{live_server}/api/records?prefix=")
    assert body == {"keys": []}


@pytest.mark.parametrize("query", ["limit=0", "limit=51", "limit=ten", "prefix=" + "a" * 201])
def test_bad_autocomplete_input_is_a_4xx_json(live_server, query):
    status, body, _ = get(f"{live_server}/api/records?{query}")
    assert status == 422 and "error" in body


def test_oversized_key_is_rejected(live_server):
    status, body, _ = get(f"{live_server}/api/records/{'x' * 300}")
    assert status == 414 and "longer than" in body["error"]


def test_sql_in_a_key_is_just_text(live_server):
    status, body, _ = get(f"{live_server}/api/records/x'%20OR%20'1'='1")
    assert status == 404
    status, body, _ = get(f"{live_server}/api/records?prefix=%25")  # a literal %, not LIKE
    assert body == {"keys": []}


@pytest.mark.parametrize("path", [
    "/static/../server.py", "/static/%2e%2e/server.py", "/static/%2e%2e%2fserver.py",
    "/static//etc/passwd", "/static/%2fetc%2fpasswd", "/models/artists/web/../metadata.json",
    "/models/artists/web/%2e%2e/model.keras", "/models/other/web/model.json",
    "/vendor/tfjs/4.22.0/../README.md", "/vendor/tfjs/4.22.0/%2e%2e/litertjs/README.md",
    "/vendor/tfjs/tf.fesm.min.js", "/vendor/tfjs/4.21.0/tf.fesm.min.js",
    "/vendor/litertjs/4.22.0/litert.min.js", "/vendor/other/1/x.js",
    "/vendor/litertjs/2.5.3/../../../server.py", "/models/artists/web/",
])
def test_no_path_escapes_the_served_folders(live_server, path):
    status, _, _ = get(live_server + path)
    assert status == 404, path


def test_served_files(live_server):
    status, body, headers = get(f"{live_server}/")
    assert status == 200 and b'src="static/app.js"' in body  # relative: works under a sub-path
    assert "default-src 'self'" in headers["content-security-policy"]
    status, body, _ = get(f"{live_server}/models/artists/web/model.json")
    assert status == 200 and body["format"] == "graph-model"
    status, body, headers = get(f"{live_server}/vendor/tfjs/4.22.0/tf.fesm.min.js")
    assert status == 200 and len(body) > 1_000_000  # the vendored runtime, no CDN
    assert headers["cache-control"] == "public, max-age=31536000, immutable"
    # The other runtimes, vendored likewise; wasm with its own type (streaming compile)
    # and a page policy that lets it compile.
    for path in ("tfjs/4.22.0/tfjs-backend-wasm-simd.wasm",
                 "litertjs/2.5.3/wasm/litert_wasm_internal.wasm"):
        status, body, headers = get(f"{live_server}/vendor/{path}")
        assert status == 200 and body[:4] == b"\0asm", path
        assert headers["content-type"] == "application/wasm"
    status, body, headers = get(f"{live_server}/vendor/litertjs/2.5.3/LICENSE")
    assert status == 200 and b"Apache License" in body
    status, _, headers = get(f"{live_server}/")
    assert "script-src 'self' 'wasm-unsafe-eval'" in headers["content-security-policy"]


FOLLOWERS = [{"name": "twitter_followers", "input": "twitter_followers", "kind": "numeric"}]


def test_store_is_rebuilt_only_when_the_data_changes(tmp_path):
    db = tmp_path / "records.sqlite"
    assert not build_store(ARTISTS, "handle", FOLLOWERS, db).reused
    first = db.stat().st_mtime_ns
    assert build_store(ARTISTS, "handle", FOLLOWERS, db).reused  # `serve` says so, too
    assert db.stat().st_mtime_ns == first
    other = write_csv(tmp_path / "o.csv", "handle,twitter_followers\na,1\nb,x\n,5\n")
    store = build_store(other, "handle", FOLLOWERS, db)
    assert store.count() == 2  # the third row has no key
    assert store.get("b")["features"] == {"twitter_followers": None}  # missing: imputed later
    with sqlite3.connect(db) as conn:
        index = conn.execute("EXPLAIN QUERY PLAN SELECT key FROM records WHERE key >= 'a' "
                             "AND key < 'b' ORDER BY key").fetchall()
    assert "USING" in str(index) and "INDEX" in str(index).upper()


def test_store_is_rebuilt_when_the_key_changes(tmp_path):
    data = write_csv(tmp_path / "d.csv", "handle,name,twitter_followers\na,x,1\nb,y,2\n")
    db = tmp_path / "records.sqlite"
    assert build_store(data, "handle", FOLLOWERS, db).get("a") is not None
    by_name = build_store(data, "name", FOLLOWERS, db)
    assert by_name.get("a") is None and by_name.get("x")["features"] == {
        "twitter_followers": 1.0}


def test_lookup_gives_categories_as_text_and_gaps_as_null(cars_server):
    # "ford pinto" is in cars.csv six times; its first row has no Horsepower.
    status, body, _ = get(f"{cars_server}/api/records/ford%20pinto")
    assert status == 200
    assert body["features"]["Origin"] == "USA" and body["features"]["Horsepower"] is None
    assert body["features"]["Cylinders"] == 4.0


def test_files_carry_validators_and_a_current_copy_gets_a_304(live_server):
    url = f"{live_server}/static/mlbridge.js"
    status, body, headers = get(url)
    assert status == 200 and headers["cache-control"] == "no-cache"
    assert headers["etag"] and headers["last-modified"]
    request = urllib.request.Request(url, headers={"If-None-Match": headers["etag"]})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("expected a 304")
    except urllib.error.HTTPError as error:
        assert error.code == 304 and error.read() == b""
        assert error.headers["etag"] == headers["etag"]
    stale = urllib.request.Request(url, headers={"If-None-Match": '"old"'})
    with urllib.request.urlopen(stale, timeout=10) as response:
        assert response.status == 200 and response.read() == body


@pytest.mark.parametrize("path", [
    "/", "/config.json", "/static/app.js", "/vendor/tfjs/4.22.0/tf.fesm.min.js",
    "/models/artists/web/model.json", "/models/artists/report.html",
    "/models/artists/plots/fit.png", "/api/records/taylorswift13", "/api/records?prefix=ta",
    "/api/records/nobody_at_all", "/api/records?limit=0", "/healthz", "/no/such/page",
])
def test_every_kind_of_response_carries_the_security_headers(live_server, path):
    status, _, headers = get(live_server + path)
    assert status in (200, 404, 422), path
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
