"""Free text as a column kind: one rule for words in Python and JavaScript, and a model
that reads a column of words in every runtime, as Python does."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import CARS, ROOT, run_cli

from mlbridge.kinds import TextColumn, words

CASES = json.loads((ROOT / "tests" / "cases" / "text.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["text"] for c in CASES])
def test_python_splits_words_as_the_table_says(case):
    assert words(case["text"]) == case["words"]


def test_javascript_splits_words_as_the_table_says():
    """web/text.js, the function mlbridge.js and predict.mjs both use, in Node.js."""
    script = (f"import {{ words }} from {json.dumps((ROOT / 'src/mlbridge/web/text.js').as_uri())};"
              "const cases = JSON.parse(process.argv[1]);"
              "console.log(JSON.stringify(cases.map((c) => words(c.text))));")
    done = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps(CASES)],
                          capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(done.stdout) == [case["words"] for case in CASES]


def test_vocabulary_is_the_words_of_several_rows_most_frequent_first():
    cells = pd.Series(["ford pinto", "Ford Torino!", "chevy nova", "ford", "", "Pinto wagon"])
    column = TextColumn.fit("Name", "name", cells)
    assert column.vocabulary == ["ford", "pinto"]  # in 3 and 2 rows; the rest in one
    assert column.missing_in_training == 1 and column.distinct_in_training == 6
    np.testing.assert_array_equal(column.encode(np.array(["FORD, ford", "nova", ""], object)),
                                  [[1, 0], [0, 0], [0, 0]])
    assert column.note("chevy nova wagon") == "Name: 3 of 3 words are unknown to the model"
    assert column.note("ford pinto wagon") is None and column.note("") == "Name is missing"


@pytest.fixture(scope="module")
def cars_text(tmp_path_factory):
    """cars.csv with no --key: its Name is free text ("chevrolet chevelle malibu")."""
    from mlbridge import train

    return train(CARS, target="Miles_per_Gallon",
                 out=tmp_path_factory.mktemp("bundles") / "cars_text")


def test_cars_reads_name_as_text_by_default_and_it_helps(cars_text, tmp_path):
    from mlbridge import train

    (name,) = [spec for spec in cars_text.metadata["inputs"] if spec["name"] == "Name"]
    assert name["kind"] == "text" and 20 <= len(name["vocabulary"]) <= 1000
    without = train(CARS, target="Miles_per_Gallon", key="Name", out=tmp_path / "no_text")
    assert cars_text.metrics["test"]["mse"] < without.metrics["test"]["mse"]
    assert "text, " in TextColumn.from_json(name).describe()


def test_a_text_bundle_agrees_on_every_runtime(cars_text):
    result = run_cli("verify", str(cars_text.path))
    assert result.code == 0, result.stdout + result.stderr
    checks = json.loads((cars_text.path / "metadata.json").read_text())["parity"]["checks"]
    for check in checks:
        expected = "unavailable" if check["runtime"].endswith("webgpu") else "passed"
        assert check["status"] == expected, check


def test_the_page_offers_a_text_box_and_says_when_words_are_unknown(cars_text, browser):
    from mlbridge.server import BackgroundServer, create_app

    with BackgroundServer(create_app(cars_text)) as server:
        page = browser.new_page()
        page.goto(f"{server.url}/")
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        assert page.eval_on_selector("#feature-name", "e => e.tagName") == "INPUT"
        page.fill("#feature-name", "Zorblax Quux Flimmer")
        page.fill("#feature-cylinders", "4")
        page.click("#value-form button")
        page.wait_for_selector("#result:not([hidden])")
        assert "Name: 3 of 3 words are unknown to the model" in page.text_content("#notes")
        (python,) = cars_text.predict({"Name": "Zorblax Quux Flimmer", "Cylinders": 4})
        assert float(page.get_attribute("#prediction-value", "data-value")) == pytest.approx(
            python, abs=1e-3)
        page.close()
