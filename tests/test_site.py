"""`mlbridge site`: the page as static files, served by Python's own http.server.

The site is served from a sub-path (`/some/dir/`), as static hosts serve it, and every
request the page makes is recorded: none may go to the API.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ARTISTS, run_cli, static_server, write_csv

from mlbridge.lookup_files import LEAF_BYTES
from mlbridge.records import build_store

FOLLOWERS = [{"name": "twitter_followers", "input": "twitter_followers", "kind": "numeric"}]


@pytest.fixture(scope="module")
def site(artists_bundle, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("host")
    result = run_cli("site", str(artists_bundle.path), "--out", str(root / "some" / "dir"))
    assert result.code == 0, result
    assert "lookup files" in result.stdout
    return root / "some" / "dir"


@pytest.fixture(scope="module")
def static_host(site):
    """A static server on the directory above the site: it lives at /some/dir/."""
    with static_server(site.parents[1]) as url:
        yield f"{url}some/dir/"


@pytest.fixture
def site_page(browser, static_host):
    page = browser.new_page()
    requested: list[str] = []
    errors: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    page.goto(static_host)
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    page.requested = requested
    yield page
    page.close()
    assert errors == [] and failed == []  # no 404, the icon included
    assert not [url for url in requested if "/api/" in url], requested
    assert all(url.startswith(static_host) for url in requested), requested  # relative URLs


def test_site_answers_a_handle_as_predict_does(site_page, artists_bundle):
    site_page.fill("#key-input", "TaylorSwift13")  # case-insensitive, as the server
    site_page.click("#lookup-form button")
    site_page.wait_for_selector("#result:not([hidden])")
    cli = run_cli("predict", str(artists_bundle.path), "twitter_followers=95307659", "-q")
    assert site_page.text_content("#prediction-value") == str(round(float(cli.stdout.split()[0])))
    shown = float(site_page.get_attribute("#prediction-value", "data-value"))
    assert shown == pytest.approx(float(cli.stdout.split()[0]), abs=1e-3)
    lookups = [url for url in site_page.requested if "/lookup/" in url]
    assert 1 < len(lookups) <= 4, lookups  # a walk down the prefix tree, not the whole table


def test_a_table_site_carries_only_the_runtimes_it_offers(site):
    config = json.loads((site / "config.json").read_text())
    assert config["runtimes"] == ["tfjs-cpu", "standalone"]  # auto's pick, and TF.js cpu
    assert (site / "vendor" / "tfjs" / "4.22.0" / "tf.fesm.min.js").is_file()
    assert not (site / "vendor" / "litertjs").exists()  # no 9 MB of wasm it never loads
    assert not list(site.rglob("*.wasm")) and not list(site.rglob("model.tflite"))


def test_site_autocompletes_and_runs_without_tfjs(site_page, static_host):
    site_page.type("#key-input", "taylor")
    site_page.wait_for_function("() => document.querySelectorAll('#key-options option').length")
    options = site_page.eval_on_selector_all("#key-options option", "els => els.map(e => e.value)")
    assert "taylorswift13" in options and all(o.startswith("taylor") for o in options)
    site_page.check("input[value=standalone]")
    site_page.wait_for_function("() => document.querySelector('#runtime-info').textContent"
                                ".includes('predict.mjs')")
    assert site_page.evaluate("async () => (await fetch(document.querySelector("
                              "'#report-link').href)).status") == 200


def test_static_lookup_matches_the_servers_store_key_for_key(site, static_host, browser,
                                                              tmp_path):
    store = build_store(ARTISTS, "handle", FOLLOWERS, tmp_path / "records.sqlite")
    keys = [row[0] for row in store.rows()]
    asked = [*keys[::7], "TAYLORSWIFT13", "umg", "  selenagomez ", "nobody_at_all", "", "t",
             "zz" * 30]
    page = browser.new_page()
    page.goto(static_host)
    found = page.evaluate("""async (keys) => {
        const { createLookup } = await import("./static/lookup.js");
        const config = await (await fetch("config.json")).json();
        const lookup = createLookup(config.lookup);
        const records = [];
        for (const key of keys) records.push(key.trim() ? await lookup.get(key) : null);
        return { records, prefix: await lookup.keys("ta", 10), all: await lookup.keys("", 5) };
    }""", asked)
    page.close()
    for key, record in zip(asked, found["records"], strict=True):
        assert record == (store.get(key.strip()) if key.strip() else None), key
    assert found["prefix"] == store.keys_with_prefix("ta", 10)
    assert found["all"] == store.keys_with_prefix("", 5)


def test_lookup_files_are_small_and_split_by_prefix(site):
    files = list((site / "lookup").glob("*.json"))
    assert len(files) > 3 and max(f.stat().st_size for f in files) <= LEAF_BYTES + 2_000
    root = json.loads((site / "lookup" / "root.json").read_text())
    assert root["split"] and root["first"] == sorted(root["first"], key=str.lower)
    config = json.loads((site / "config.json").read_text())
    assert config["lookup"] == {"kind": "static", "url": "lookup/",
                                "features": ["twitter_followers"]}
    assert (site / "vendor" / "tfjs" / "4.22.0" / "LICENSE").is_file()


def test_site_refuses_a_folder_of_other_files_and_replaces_its_own(artists_bundle, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    write_csv(other / "notes.txt", "precious\n")
    result = run_cli("site", str(artists_bundle.path), "--out", str(other))
    assert result.code == 2 and "not an mlbridge site" in result.stderr
    assert (other / "notes.txt").read_text() == "precious\n"
    data = write_csv(tmp_path / "few.csv", "handle,twitter_followers\nAda,5\nada,6\nbob,\n")
    built = tmp_path / "site"
    for _ in range(2):  # the second run replaces the first site whole
        result = run_cli("site", str(artists_bundle.path), "--out", str(built), "--data",
                         str(data), "-q")
        assert result.code == 0, result
    assert json.loads((built / "lookup" / "root.json").read_text()) == {
        "records": [["Ada", 5.0], ["bob", None]]}  # the first row of a repeated key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["few.csv", "mine", "site"]


def test_a_site_with_categories_and_gaps_fills_every_field(cars_bundle, browser, tmp_path):
    from mlbridge.site import build_site

    build_site(cars_bundle.path, tmp_path / "cars")
    with static_server(tmp_path / "cars") as url:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        page.fill("#key-input", "Ford Pinto")
        page.click("#lookup-form button")
        page.wait_for_selector("#result:not([hidden])")
        assert page.input_value("#feature-origin") == "USA"
        assert page.input_value("#feature-horsepower") == ""  # missing in the data
        (python,) = cars_bundle.predict({"Cylinders": 4, "Displacement": 98,
                                         "Horsepower": None, "Weight_in_lbs": 2046,
                                         "Acceleration": 19, "Origin": "USA"})
        assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
            python, abs=1e-3)
        assert page.is_visible("#prediction-range")  # the interval, as on the served page
        page.close()


def test_the_same_site_works_at_a_hosts_root(site, browser, artists_bundle):
    with static_server(site) as url:
        page = browser.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        page.fill("#key-input", "taylorswift13")
        page.click("#lookup-form button")
        page.wait_for_selector("#result:not([hidden])")
        ((python, _, _),) = artists_bundle.predict_interval({"twitter_followers": [95307659]})
        assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
            python, abs=1e-3)
        assert not [u for u in requested if "/api/" in u] and requested
        page.close()
