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
    ((python, lower, upper),) = artists_bundle.predict_interval({"twitter_followers": [95307659]})
    assert page.text_content("#prediction-value") == str(round(python))
    assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
        python, abs=1e-3)
    assert "95,307,659" in page.text_content("#result-inputs")
    assert page.text_content("#share-text") == (
        f"As taylorswift13, my popularity would be {round(python)}, likely between "
        f"{round(lower)} and {round(upper)}.")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-taylorswift13.png"), full_page=True)


def test_labels_come_from_metadata(page):
    assert page.text_content("h1") == "Predict popularity"
    assert page.text_content("#key-label") == "Handle"
    assert "twitter_followers" in page.text_content("#feature-fields")  # as the table says


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
    for bad, message in (("lots", "Enter a number for twitter_followers"),
                         ("-5", "0 or more")):  # blank is allowed: the model imputes it
        page.fill("#feature-twitter_followers", bad)
        page.click("#value-form button")
        page.wait_for_selector("#message:not([hidden])")
        assert message in page.text_content("#message")


def test_autocomplete_offers_matching_handles(page):
    page.type("#key-input", "taylor")
    page.wait_for_function("() => document.querySelectorAll('#key-options option').length > 0")
    options = page.eval_on_selector_all("#key-options option", "els => els.map(e => e.value)")
    assert "taylorswift13" in options and all(o.startswith("taylor") for o in options)


def test_the_recipes_own_client_code_reads_the_default_model(page, artists_bundle):
    """The recipe's page: tf.loadGraphModel, then predict on a [n, 1] tensor, [0][0]."""
    answer = page.evaluate("""async () => {
        const tf = await import("/vendor/tfjs/4.22.0/tf.fesm.min.js");
        const model = await tf.loadGraphModel("/models/artists/web/model.json");
        const followers = [95307659, 1000];
        const popularity = model.predict(tf.tensor(followers).reshape([-1, 1])).arraySync()[0][0];
        return { popularity, inputs: model.inputs.length };
    }""")
    (python,) = artists_bundle.predict({"twitter_followers": [95307659]})
    assert answer["inputs"] == 1 and answer["popularity"] == pytest.approx(python, abs=1e-3)


@pytest.fixture
def cars_page(browser, cars_server):
    page = browser.new_page(viewport={"width": 800, "height": 1200})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{cars_server}/")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    yield page
    page.close()
    assert errors == []


def test_form_offers_the_models_values_for_a_category(cars_page, cars_bundle):
    labels = cars_page.eval_on_selector_all(
        "#feature-fields label", "ls => ls.map(l => [l.textContent, l.htmlFor])")
    assert [text for text, _ in labels] == cars_bundle.features  # as the table names them
    for _, target in labels:
        assert cars_page.locator(f"#{target}").count() == 1
    options = cars_page.eval_on_selector_all("#feature-origin option",
                                             "os => os.map(o => o.textContent)")
    origin = next(i for i in cars_bundle.metadata["inputs"] if i["name"] == "Origin")
    assert options == ["(not known)", *origin["vocabulary"], "another value…"]
    assert cars_page.is_hidden("#feature-origin-other")
    cars_page.select_option("#feature-origin", label="another value…")
    assert cars_page.is_visible("#feature-origin-other")  # "other" allowed, typed in


def test_blank_and_unseen_values_predict_what_python_predicts(cars_page, cars_bundle):
    values = {"cylinders": "4", "displacement": "97", "horsepower": "",
              "weight_in_lbs": "2,130", "acceleration": ""}
    for name, value in values.items():
        cars_page.fill(f"#feature-{name}", value)
    cars_page.select_option("#feature-origin", label="another value…")
    cars_page.fill("#feature-origin-other", "Atlantis")
    cars_page.click("#value-form button")
    cars_page.wait_for_selector("#result:not([hidden])")
    (python,) = cars_bundle.predict({"Cylinders": 4, "Displacement": 97, "Horsepower": None,
                                     "Weight_in_lbs": 2130, "Acceleration": None,
                                     "Origin": "Atlantis"})
    assert float(cars_page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
        python, abs=1e-3)
    assert "(missing)" in cars_page.text_content("#result-inputs")


def test_looking_a_car_up_fills_every_field(cars_page, cars_bundle):
    cars_page.fill("#key-input", "ford pinto")
    cars_page.click("#lookup-form button")
    cars_page.wait_for_selector("#result:not([hidden])")
    assert cars_page.input_value("#feature-origin") == "USA"
    assert cars_page.input_value("#feature-horsepower") == ""  # missing in the data
    assert cars_page.input_value("#feature-cylinders") == "4"
    (python,) = cars_bundle.predict({"Cylinders": 4, "Displacement": 98, "Horsepower": None,
                                     "Weight_in_lbs": 2046, "Acceleration": 19,
                                     "Origin": "USA"})
    assert float(cars_page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
        python, abs=1e-3)
    ARTIFACTS.mkdir(exist_ok=True)
    cars_page.screenshot(path=str(ARTIFACTS / "page-cars-ford-pinto.png"), full_page=True)


RUNTIMES = ["tfjs-cpu", "tfjs-wasm", "tfjs-webgl", "tfjs-webgpu", "litert-wasm",
            "litert-webgpu", "standalone", "standalone-node"]


def assert_every_runtime_passed(bundle) -> dict:
    """Every runtime agrees with Python, but WebGPU (no GPU here), reported unavailable."""
    metadata = json.loads((bundle.path / "metadata.json").read_text())
    parity = metadata["parity"]
    assert [c["runtime"] for c in parity["checks"]] == RUNTIMES
    for check in parity["checks"]:
        expected = "unavailable" if check["runtime"].endswith("webgpu") else "passed"
        assert check["status"] == expected, check
    assert parity["passed"]
    ranking = metadata["runtimes"]["ranking"]
    assert sorted(ranking) == sorted(set(RUNTIMES) - {"tfjs-webgpu", "litert-webgpu",
                                                      "standalone-node"})
    assert metadata["runtimes"]["engine"] == "Chromium"
    web = json.loads((bundle.path / "web" / "metadata.json").read_text())
    assert web["runtimes"] == metadata["runtimes"]  # what the page's auto reads
    return parity


def test_verify_passes_with_categories_and_gaps(cars_bundle):
    result = run_cli("verify", str(cars_bundle.path))
    assert result.code == 0, result.stdout + result.stderr
    parity = assert_every_runtime_passed(cars_bundle)
    assert parity["inputs"] > 80
    assert cars_bundle.metadata["litert"]["slots"] == ["origin"]  # LiteRT: no strings


def test_page_says_when_the_model_cannot_load(browser, live_server):
    page = browser.new_page()
    page.route("**/web/metadata.json", lambda route: route.fulfill(status=500, body="broken"))
    page.goto(f"{live_server}/")
    page.wait_for_selector(".status.error")
    assert "The model could not be loaded" in page.text_content("#status")
    page.close()


def test_verify_cli_passes_and_records_parity(artists_bundle):
    result = run_cli("verify", str(artists_bundle.path))
    assert result.code == 0, result.stdout + result.stderr
    for name in RUNTIMES:  # one row each, never cut short
        assert f"│ {name} " in result.stdout, name
    assert "auto picks, in this kind of browser: standalone" in result.stdout
    parity = assert_every_runtime_passed(artists_bundle)
    ran = [c for c in parity["checks"] if c["status"] == "passed"]
    assert [c["backend"] for c in ran] == ["cpu", "wasm", "webgl", "wasm", "none", "node"]
    assert all(c["max_rel_diff"] < 1e-4 for c in ran)
    assert all(c["first_ms"] > 0 and c["ms_per_prediction"] > 0 and c["bytes"] > 0
               for c in ran if c["runtime"] != "standalone-node")
    report = (artists_bundle.path / "report.html").read_text()
    assert "standalone-node" in report and "Not checked yet" not in report
    assert parity["inputs"] == 373 + 6  # the test rows, then 6 edge rows


def test_verify_fails_on_tampered_weights(artists_bundle, tmp_path):
    tampered = tmp_path / "artists"
    shutil.copytree(artists_bundle.path, tampered)
    weights = tampered / "web" / "group1-shard1of1.bin"
    data = bytearray(weights.read_bytes())
    floats = list(struct.unpack(f"<{len(data) // 4}f", data))
    floats = [v * 1.01 if abs(v) > 1e-3 else v for v in floats]  # nudge every weight by 1%
    weights.write_bytes(struct.pack(f"<{len(floats)}f", *floats))
    result = run_cli("verify", str(tampered), "--runtime", "tfjs-cpu", "--runtime", "litert-wasm")
    assert result.code == 1 and "FAIL" in result.stdout
    metadata = json.loads((tampered / "metadata.json").read_text())
    cpu, litert = metadata["parity"]["checks"]
    assert not metadata["parity"]["passed"] and cpu["max_abs_diff"] > 1e-3
    assert (cpu["status"], litert["status"]) == ("failed", "passed")  # its own weights
    assert metadata["runtimes"]["ranking"] == ["litert-wasm"]  # auto never picks a failure


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

    page.check("input[value=tfjs-cpu]")  # switching loads TF.js now, and answers again
    page.wait_for_function("() => document.querySelector('#answered-by').textContent"
                           ".startsWith('Answered by TF.js')")
    assert any("/vendor/tfjs/4.22.0/tf.fesm.min.js" in url for url in requested), requested
    assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
        python, abs=1e-3)
    page.close()


@pytest.mark.parametrize("runtime", ["tfjs-cpu", "tfjs-wasm", "tfjs-webgl", "litert-wasm",
                                     "standalone"])
def test_the_page_answers_alike_on_every_runtime(browser, live_server, artists_bundle, runtime):
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server}/?runtime={runtime}")
    page.wait_for_selector("body[data-ready=true]", timeout=60_000)
    assert page.get_attribute("#runtime-info", "data-runtime") == runtime
    assert page.is_checked(f"input[value={runtime}]")
    page.fill("#feature-twitter_followers", "250000")
    page.click("#value-form button")
    page.wait_for_selector("#result:not([hidden])")
    (python,) = artists_bundle.predict({"twitter_followers": [250000]})
    assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
        python, abs=1e-3)
    page.close()
    assert errors == []


def test_auto_answers_with_predict_mjs_and_the_choice_goes_in_the_url(page):
    assert page.get_attribute("#runtime-info", "data-runtime") == "standalone"
    assert page.is_checked("input[value=auto]") and "auto chose" in page.text_content(
        "#runtime-info")
    page.check("input[value=litert-wasm]")
    page.wait_for_function("() => document.querySelector('#runtime-info').dataset.runtime"
                           " === 'litert-wasm'")
    assert page.url.endswith("/?runtime=litert-wasm")  # a link to share
    page.check("input[value=tfjs-webgpu]")  # no GPU here: said, not a crash
    page.wait_for_selector(".status.error")
    assert "WebGPU is not available in this browser" in page.text_content("#status")


def test_page_links_the_report(page, browser, live_server):
    href = page.get_attribute("#report-link", "href")
    assert href == "models/artists/report.html" and page.is_visible("#report-link")  # relative
    report = browser.new_page()
    report.goto(f"{live_server}/{href}")
    assert report.title() == "mlbridge report: artists"
    sizes = report.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert len(sizes) == 2 and all(width > 0 for width in sizes)  # plots served too
    font = report.eval_on_selector("body", "b => getComputedStyle(b).fontFamily")
    assert "system-ui" in font  # its inline stylesheet is allowed by the report's CSP
    captions = report.eval_on_selector_all("figcaption", "cs => cs.map(c => c.textContent)")
    assert "where the cloud leaves the line" in captions[0] and "an 80%" not in report.content()
    assert "Every prediction comes with its 80% interval" in report.text_content("body")
    report.click("text=← the prediction page")  # and back to the page
    report.wait_for_selector("body[data-ready=true]")
    icon = report.evaluate("async () => (await fetch(document.querySelector("
                           "'link[rel=icon]').href)).status")
    assert icon == 200 and report.url == f"{live_server}/"
    report.close()


@pytest.mark.parametrize("fixture", ["species_bundle", "sex_bundle"])
def test_verify_passes_for_classifiers_per_class(fixture, request):
    bundle = request.getfixturevalue(fixture)
    result = run_cli("verify", str(bundle.path))
    assert result.code == 0, result.stdout + result.stderr
    parity = assert_every_runtime_passed(bundle)
    for check in parity["checks"]:
        assert check["columns"] == bundle.labels
        assert check["status"] != "passed" or check["max_sum_error"] < 1e-5


def test_verify_checks_the_interval_ends_too(artists_bundle):
    parity = json.loads((artists_bundle.path / "metadata.json").read_text())["parity"]
    if not parity:  # verify has not run on this bundle yet in this session
        assert run_cli("verify", str(artists_bundle.path)).code == 0
        parity = json.loads((artists_bundle.path / "metadata.json").read_text())["parity"]
    assert all(c["columns"] == ["value", "lower", "upper"] for c in parity["checks"])


def test_page_says_the_range_in_words_and_draws_it(page, artists_bundle):
    page.fill("#feature-twitter_followers", "250000")
    page.click("#value-form button")
    page.wait_for_selector("#result:not([hidden])")
    value, lower, upper = artists_bundle.predict_interval({"twitter_followers": [250000]})[0]
    assert page.text_content("#prediction-range").startswith(
        f"{round(value)}, likely between {round(lower)} and {round(upper)}")
    assert page.is_visible("#bar-range") and page.is_hidden("#notes")
    page.fill("#feature-twitter_followers", "2000000000")
    page.click("#value-form button")
    page.wait_for_selector("#notes:not([hidden])")
    assert "18× the largest seen in training" in page.text_content("#notes")


@pytest.fixture
def species_page(browser, species_bundle):
    from mlbridge.server import BackgroundServer, create_app

    with BackgroundServer(create_app(species_bundle)) as server:
        page = browser.new_page(viewport={"width": 800, "height": 1400})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server.url}/")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        yield page
        page.close()
        assert errors == []


def test_page_shows_the_label_with_a_bar_per_class(species_page, species_bundle):
    species_page.select_option("#feature-island", "Dream")
    species_page.select_option("#feature-sex", "female")
    species_page.fill("#feature-bill_length_mm", "49")
    assert species_page.text_content("#value-hint").startswith("Enter the values")  # no lookup
    species_page.click("#value-form button")
    species_page.wait_for_selector("#result:not([hidden])")
    (label,) = species_bundle.predict_labels({
        "island": "Dream", "bill_length_mm": 49, "bill_depth_mm": None,
        "flipper_length_mm": None, "body_mass_g": None, "sex": "female", "year": None})
    assert species_page.text_content("#prediction-value") == label
    names = species_page.eval_on_selector_all("#class-bars .class-name",
                                              "els => els.map(e => e.textContent)")
    assert sorted(names) == ["Adelie", "Chinstrap", "Gentoo"] and names[0] == label
    assert species_page.is_hidden("#bar") and "body_mass_g is missing" in (
        species_page.text_content("#notes"))
    ARTIFACTS.mkdir(exist_ok=True)
    species_page.screenshot(path=str(ARTIFACTS / "page-species.png"), full_page=True)
