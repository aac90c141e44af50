"""One table of input cases (tests/cases/inputs.json), run against all three checkers.

Python (`Bundle.predict`), the browser client (`mlbridge.js` on TF.js, LiteRT.js and
predict.mjs, in Chromium) and `predict.mjs` (in Node.js) must give the same message for a
bad input, and the same prediction for a good one.
"""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from conftest import ROOT, run_cli

from mlbridge.errors import DataError

TABLE = json.loads((ROOT / "tests" / "cases" / "inputs.json").read_text())


def case_inputs(case: dict):
    if "inputs" in case:
        return case["inputs"]
    inputs = {**TABLE["base"], **case.get("set", {})}
    return {k: v for k, v in inputs.items() if k not in case.get("drop", [])}


def python_answer(bundle, inputs) -> dict:
    try:
        return {"values": bundle.predict(inputs).tolist()}
    except DataError as exc:
        return {"error": exc.message}


_IN_PAGE = """
async ({ url, cases }) => {
  const { loadModel } = await import("/static/mlbridge.js");
  const answers = {};
  for (const runtime of ["tfjs-cpu", "litert-wasm", "standalone"]) {
    const model = await loadModel(url, { runtime });
    answers[runtime] = [];
    for (const inputs of cases) {
      try { answers[runtime].push({ values: await model.predict(inputs) }); }
      catch (e) { answers[runtime].push({ error: e.message }); }
    }
  }
  return answers;
}
"""

_IN_NODE = """
const { predict } = await import(process.argv[1]);
const answers = [];
for (const inputs of JSON.parse(process.argv[2])) {
  try { answers.push({ values: predict(inputs) }); }
  catch (e) { answers.push({ error: e.message }); }
}
console.log(JSON.stringify(answers));
"""


@pytest.fixture(scope="module")
def answers(cars_bundle, cars_server, browser) -> dict[str, list[dict]]:
    inputs = [case_inputs(case) for case in TABLE["cases"]]
    page = browser.new_page()
    page.goto(f"{cars_server}/static/verify.html")
    in_page = page.evaluate(_IN_PAGE, {"url": "/models/cars/web/", "cases": inputs})
    page.close()
    module = (cars_bundle.path / "web" / "predict.mjs").resolve().as_uri()
    node = subprocess.run(["node", "--input-type=module", "-e", _IN_NODE, module,
                           json.dumps(inputs)], capture_output=True, text=True, check=True)
    return {"python": [python_answer(cars_bundle, i) for i in inputs],
            "mlbridge.js (tfjs-cpu)": in_page["tfjs-cpu"],
            "mlbridge.js (litert-wasm)": in_page["litert-wasm"],
            "mlbridge.js (standalone)": in_page["standalone"],
            "predict.mjs (node)": json.loads(node.stdout)}


@pytest.mark.parametrize("index", range(len(TABLE["cases"])),
                         ids=[case["name"] for case in TABLE["cases"]])
def test_every_runtime_answers_the_case_alike(answers, index):
    case = TABLE["cases"][index]
    reference = answers["python"][index]
    if case.get("error"):
        assert reference == {"error": case["error"]}
    else:
        assert "values" in reference and np.isfinite(reference["values"]).all(), reference
    for runtime, given in answers.items():
        got = given[index]
        if "error" in reference:
            assert got == reference, runtime
        else:
            assert "values" in got, (runtime, got)
            np.testing.assert_allclose(got["values"], reference["values"], rtol=1e-4,
                                       atol=1e-3, err_msg=runtime)


@pytest.mark.parametrize("case", TABLE["cli"], ids=[case["name"] for case in TABLE["cli"]])
def test_the_command_line_follows_the_same_rule(cars_bundle, case):
    """`mlbridge predict BUNDLE COL=VALUE ...`: the same message, or Python's answer."""
    result = run_cli("predict", str(cars_bundle.path), *case["args"], "-q")
    if "error" in case:
        assert result.code == 2 and f"error: {case['error']}" in result.stderr, result
        assert "hint: " in result.stderr  # what to do about it, at every door
        assert python_answer(cars_bundle, dict(a.split("=", 1) for a in case["args"])) == {
            "error": case["error"]}
    else:
        assert result.code == 0, result
        (value, *_) = (float(v) for v in result.stdout.split())
        assert value == pytest.approx(cars_bundle.predict(case["same_as"])[0], abs=1e-4)


def test_a_file_is_read_as_training_read_it_and_a_bad_cell_costs_its_row(cars_bundle,
                                                                        tmp_path):
    import io

    import pandas as pd

    case = TABLE["file"]
    data = tmp_path / "rows.csv"
    data.write_text(case["csv"])
    result = run_cli("predict", str(cars_bundle.path), "--data", str(data), "--out", "-")
    assert result.code == 0, result
    table = pd.read_csv(io.StringIO(result.stdout))
    predicted = table["predicted_Miles_per_Gallon"]
    assert predicted.notna().tolist() == case["predicted"]
    assert [None if n != n else n for n in table["notes"]][2] == case["notes"][2]
    expected = [cars_bundle.predict(row)[0] for row in case["same_as"]]
    np.testing.assert_allclose(predicted[:2], expected, rtol=1e-6)  # float32, as written
    assert list(table.columns[:4]) == ["Name", "Cylinders", "Horsepower", "Origin"]
    assert "1 row has a cell that is not a number" in " ".join(result.stderr.split())
    assert "has no column Displacement" in " ".join(result.stderr.split())
    # Written as float32 holds them: 25.414728, not 25.41472816467285.
    assert all(len(text.split(".")[-1]) <= 8 for text in result.stdout.split(",")
               if text.replace(".", "").isdigit())
