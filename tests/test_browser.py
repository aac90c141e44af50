"""The page and the parity check in real headless Chromium against the real server."""

from __future__ import annotations

import json
import shutil
import struct

import pytest
from conftest import ARTIFACTS, run_cli


@pytest.fixture
def page(browser, live_server):
    page = browser.new_page(viewport={"width": 800, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server}/")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    yield page
    page.close()
    assert errors == []


def test_known_handle_shows_pythons_prediction(page, artists_bundle):
    page.fill("#key-input", "taylorswift13")
    page.click("#lookup-form button")
    page.wait_for_selector("#result:not([hidden])")
    (python,) = artists_bundle.predict({"twitter_followers": [95307659]})
    assert page.text_content("#prediction-value") == str(round(python))
    assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
        python, abs=1e-3)
    assert "95,307,659" in page.text_content("#result-inputs")
    assert page.text_content("#share-text") == (
        f"As taylorswift13, my popularity would be {round(python)} out of 100.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-taylorswift13.png"), full_page=True)


def test_labels_come_from_metadata(page):
    assert page.text_content("h1") == "Predict popularity"
    assert page.text_content("#key-label") == "Handle"
    assert "twitter followers" in page.text_content("#feature-fields")


def test_unknown_handle_shows_a_message_as_text(page):
    page.fill("#key-input", "<b>nobody</b>")
    page.click("#lookup-form button")
    page.wait_for_selector("#message:not([hidden])")
    assert page.text_content("#message") == "No handle “<b>nobody</b>” in the data."
    assert page.locator("#message b").count() == 0  # rendered as text, not HTML
    assert page.is_hidden("#result")


def test_typed_follower_count_and_bad_numbers(page, artists_bundle):
    page.fill("#feature-twitter_followers", "1,000")
    page.click("#value-form button")
    page.wait_for_selector("#result:not([hidden])")
    (python,) = artists_bundle.predict({"twitter_followers": [1000]})
    assert page.text_content("#prediction-value") == str(round(python))
    for bad, message in (("lots", "Enter a number for twitter followers"),
                         ("-5", "0 or more")):
        page.fill("#feature-twitter_followers", bad)
        page.click("#value-form button")
        page.wait_for_selector("#message:not([hidden])")
        assert message in page.text_content("#message")


def test_autocomplete_offers_matching_handles(page):
    page.type("#key-input", "taylor")
    page.wait_for_function("() => document.querySelectorAll('#key-options option').length > 0")
    options = page.eval_on_selector_all("#key-options option", "els => els.map(e => e.value)")
    assert "taylorswift13" in options and all(o.startswith("taylor") for o in options)


def test_client_rejects_bad_inputs_by_name(page, live_server):
    errors = page.evaluate("""async () => {
        const { loadModel } = await import("/static/mlbridge.js");
        const model = await loadModel("/models/artists/web/");
        const messages = [];
        for (const bad of [{ followers: [1] }, { twitter_followers: ["many"] }, null]) {
            try { await model.predict(bad); messages.push("no error"); }
            catch (e) { messages.push(e.message); }
        }
        return messages;
    }""")
    assert errors[0] == 'missing feature "twitter_followers"'
    assert errors[1] == 'feature "twitter_followers" has a value that is not a number: "many"'
    assert "inputs must be an object" in errors[2]


def test_page_says_when_the_model_cannot_load(browser, live_server):
    page = browser.new_page()
    page.route("**/model.json", lambda route: route.fulfill(status=500, body="broken"))
    page.goto(f"{live_server}/")
    page.wait_for_selector(".status.error")
    assert "The model could not be loaded" in page.text_content("#status")
    page.close()


def test_verify_cli_passes_and_records_parity(artists_bundle):
    result = run_cli("verify", str(artists_bundle.path))
    assert result.code == 0, result.stdout + result.stderr
    assert "tfjs-webgl" in result.stdout and "tfjs-cpu" in result.stdout
    assert "standalone-node" in result.stdout
    parity = json.loads((artists_bundle.path / "metadata.json").read_text())["parity"]
    assert parity["passed"]
    assert [c["backend"] for c in parity["checks"]] == ["webgl", "cpu", "none", "node"]
    assert all(c["max_rel_diff"] < 1e-4 for c in parity["checks"])
    report = (artists_bundle.path / "report.html").read_text()
    assert "standalone-node" in report and "Not checked yet" not in report
    assert parity["inputs"] == 358 + 5


def test_verify_fails_on_tampered_weights(artists_bundle, tmp_path):
    tampered = tmp_path / "artists"
    shutil.copytree(artists_bundle.path, tampered)
    weights = tampered / "web" / "group1-shard1of1.bin"
    data = bytearray(weights.read_bytes())
    floats = list(struct.unpack(f"<{len(data) // 4}f", data))
    floats = [v * 1.01 if abs(v) > 1e-3 else v for v in floats]  # nudge every weight by 1%
    weights.write_bytes(struct.pack(f"<{len(floats)}f", *floats))
    result = run_cli("verify", str(tampered), "--backend", "cpu")
    assert result.code == 1 and "FAIL" in result.stdout
    parity = json.loads((tampered / "metadata.json").read_text())["parity"]
    assert not parity["passed"] and parity["checks"][0]["max_abs_diff"] > 1e-3


def test_standalone_mode_never_downloads_tfjs(browser, live_server, artists_bundle):
    page = browser.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server}/?runtime=standalone")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#feature-twitter_followers", "250000")
    page.click("#value-form button")
    page.wait_for_selector("#result:not([hidden])")
    (python,) = artists_bundle.predict({"twitter_followers": [250000]})
    assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
        python, abs=1e-3)
    assert "predict.mjs" in page.text_content("#answered-by")
    assert any(url.endswith("/predict.mjs") for url in requested), requested
    assert not [url for url in requested if "/vendor/tfjs/" in url or "model.json" in url]

    page.check("input[value=tfjs]")  # switching loads TF.js now, and answers again
    page.wait_for_function("() => document.querySelector('#answered-by').textContent"
                           ".startsWith('Answered by TF.js')")
    assert any("/vendor/tfjs/tf.fesm.min.js" in url for url in requested), requested
    assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
        python, abs=1e-3)
    page.close()


def test_page_links_the_report(page, browser, live_server):
    href = page.get_attribute("#report-link", "href")
    assert href == "/models/artists/report.html" and page.is_visible("#report-link")
    report = browser.new_page()
    report.goto(live_server + href)
    assert report.title() == "mlbridge report: artists"
    sizes = report.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(sizes) == 3 and all(width > 0 for width in sizes)  # plots served too
    font = report.eval_on_selector("body", "b => getComputedStyle(b).fontFamily")
    assert "system-ui" in font  # its inline stylesheet is allowed by the report's CSP
    report.close()
