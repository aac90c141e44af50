"""What the model says: class labels with probabilities, and a conformal range for numbers."""

from __future__ import annotations

import io
import json
import subprocess

import numpy as np
import pandas as pd
import pytest
from conftest import ARTISTS, PENGUINS, ROOT, run_cli, write_csv

import mlbridge
from mlbridge.dataset import load_dataset
from mlbridge.errors import DataError, UsageError


def test_the_task_follows_the_target():
    species = load_dataset(PENGUINS, "species", None)
    assert species.task == "classification"
    assert species.labels == ["Adelie", "Chinstrap", "Gentoo"]
    years = load_dataset(PENGUINS, "year", None, task="classification")
    assert years.labels == ["2007", "2008", "2009"]  # numbers: in numeric order
    assert load_dataset(PENGUINS, "body_mass_g", None).task == "regression"


def test_the_hash_split_cuts_each_class_about_80_20():
    data = load_dataset(PENGUINS, "species", None)
    for split in (data.train, data.test):
        assert set(split["species"]) == {"Adelie", "Chinstrap", "Gentoo"}
    shares = data.test["species"].value_counts(normalize=True)
    overall = pd.concat([data.train, data.test])["species"].value_counts(normalize=True)
    assert (shares - overall).abs().max() < 0.1  # by chance (75 rows): not stratified


def test_bad_targets_are_refused(tmp_path):
    one = write_csv(tmp_path / "one.csv", "x,y\n" + "".join(f"{i},a\n" for i in range(20)))
    with pytest.raises(DataError, match="one class only"):
        load_dataset(one, "y", None)
    many = write_csv(tmp_path / "many.csv", "x,y\n" + "".join(f"{i},n{i}\n" for i in range(80)))
    with pytest.raises(DataError, match="80 different labels: that looks like an id"):
        load_dataset(many, "y", None)
    with pytest.raises(UsageError, match="--target-range does not apply"):
        load_dataset(PENGUINS, "species", None, target_range=(0, 1))


@pytest.mark.parametrize("fixture", ["species_bundle", "weather_bundle"])
def test_linear_classifier_reaches_logistic_regression(fixture, request):
    metrics = request.getfixturevalue(fixture).metrics
    ours, reference = metrics["test"], metrics["baselines"]["logistic_regression"]
    assert ours["log_loss"] <= 1.02 * reference["log_loss"]
    assert ours["log_loss"] < metrics["baselines"]["prior"]["log_loss"]
    assert {"accuracy", "log_loss", "macro_f1"} <= set(ours)
    assert len(metrics["confusion"]) == len(request.getfixturevalue(fixture).labels)


def test_probabilities_sum_to_one_and_labels_follow(species_bundle):
    rows = {"island": ["Dream", "Biscoe", "Atlantis"], "bill_length_mm": [49, 47, None],
            "bill_depth_mm": [18, 14, None], "flipper_length_mm": [195, 215, None],
            "body_mass_g": [3700, 5000, None], "sex": ["female", "male", None],
            "year": [2008, 2008, 2008]}
    probabilities = species_bundle.predict(rows)
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    labels = species_bundle.predict_labels(rows)
    assert list(labels[:2]) == ["Chinstrap", "Gentoo"]
    assert species_bundle.metadata["output"]["columns"] == ["Adelie", "Chinstrap", "Gentoo"]
    with pytest.raises(UsageError, match="no prediction interval"):
        species_bundle.predict_interval(rows)


def test_two_classes_get_a_sigmoid_and_an_roc_auc(sex_bundle):
    assert sex_bundle.labels == ["female", "male"]
    layers = [type(layer).__name__ for layer in sex_bundle.model.layers]
    assert "TwoClass" in layers and "Softmax" not in layers
    assert 0.5 < sex_bundle.metrics["test"]["roc_auc"] <= 1.0
    assert sex_bundle.metrics["test"]["log_loss"] <= 1.02 * (
        sex_bundle.metrics["baselines"]["logistic_regression"]["log_loss"])


def test_predict_data_writes_the_label_each_probability_and_notes(species_bundle, tmp_path):
    rows = tmp_path / "rows.csv"
    rows.write_text("island,bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,sex,"
                    "year\nDream,49,18,195,3700,female,2008\nMars,,14,215,50000,,2008\n")
    result = run_cli("predict", str(species_bundle.path), "--data", str(rows), "--out", "-")
    assert result.code == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout), keep_default_na=False)
    assert list(table.columns)[-5:] == ["predicted_species", "probability_Adelie",
                                        "probability_Chinstrap", "probability_Gentoo", "notes"]
    assert table["predicted_species"][0] == "Chinstrap" and table["notes"][0] == ""
    notes = table["notes"][1]
    assert 'island "Mars" is a value the model does not know' in notes
    assert "bill_length_mm is missing: the model used" in notes
    assert "body_mass_g is 7× the largest seen in training" in notes


def test_regression_carries_an_interval_with_honest_coverage(artists_bundle):
    output, test = artists_bundle.metadata["output"], artists_bundle.metrics["test"]
    assert output["columns"] == ["value", "lower", "upper"] and output["interval"] == 0.8
    assert output["calibration_rows"] == artists_bundle.metadata["data"]["rows_calibration"]
    assert abs(test["interval_coverage"] - 0.8) < 0.06  # 373 test rows: a few points
    value, lower, upper = artists_bundle.predict_interval({"twitter_followers": [90_000]})[0]
    assert lower < value < upper and upper - lower == pytest.approx(
        2 * output["half_width"], rel=1e-4)
    (top,) = artists_bundle.predict_interval({"twitter_followers": [1e12]})
    assert top[2] == 100.0  # clipped to the target's range like the value


def test_interval_can_be_widened_or_turned_off(tmp_path):
    small = tmp_path / "small.csv"
    pd.read_csv(ARTISTS).sample(300, random_state=0).to_csv(small, index=False)
    common = {"target": "popularity", "features": ["twitter_followers"], "epochs": 30}
    wide = mlbridge.train(small, out=tmp_path / "wide", interval=0.95, **common)
    none = mlbridge.train(small, out=tmp_path / "none", interval=0, **common)
    assert wide.metadata["output"]["interval"] == 0.95
    assert none.metadata["output"]["columns"] == ["value"]
    assert none.outputs({"twitter_followers": [1000]}).shape == (1, 1)
    assert "interval_coverage" not in none.metrics["test"]
    model_json = json.loads((none.path / "web" / "model.json").read_text())
    dims = model_json["signature"]["outputs"]["output_0"]["tensorShape"]["dim"]
    assert [int(d["size"]) for d in dims] == [-1, 1]


def test_cli_answers_with_the_range_and_the_label(artists_bundle, species_bundle):
    one = run_cli("predict", str(artists_bundle.path), "twitter_followers=2000000000")
    value, lower, upper = (float(v) for v in one.stdout.split())  # tab-separated
    assert one.code == 0 and 0 < lower <= value <= upper
    assert "likely between" in one.stderr and "18× the largest seen" in one.stderr
    label = run_cli("predict", str(species_bundle.path), "island=Dream", "bill_length_mm=49",
                    "sex=female")
    name, probability = label.stdout.split()
    assert label.code == 0 and name in ("Chinstrap", "Adelie", "Gentoo")
    assert 1 / 3 < float(probability) <= 1
    assert "%" in label.stderr


def test_report_shows_confusion_reliability_and_coverage(species_bundle, artists_bundle):
    report = (species_bundle.path / "report.html").read_text()
    for name in ("confusion", "reliability"):
        assert (species_bundle.path / "plots" / f"{name}.png").stat().st_size > 5_000
        assert f'src="plots/{name}.png"' in report
    assert "logistic regression" in report and "log loss" in report
    regression = (artists_bundle.path / "report.html").read_text()
    coverage = artists_bundle.metrics["test"]["interval_coverage"]
    assert f"<b>{coverage:.1%}</b>" in regression and "(nominal 80%)" in regression


NOTES = json.loads((ROOT / "tests" / "cases" / "notes.json").read_text())

_NOTES_IN_NODE = """
const [inputsUrl, notesUrl, metadataText, casesText] = process.argv.slice(1);
const { columns } = await import(inputsUrl);
const { notes } = await import(notesUrl);
const { inputs } = JSON.parse(metadataText);
const out = JSON.parse(casesText).map((row) => {
  const cols = columns(Object.fromEntries(Object.entries(row).map(([k, v]) => [k, [v]])), inputs);
  return notes(cols.map((c) => c[0]), inputs);
});
console.log(JSON.stringify(out));
"""


def test_notes_are_the_same_in_python_and_javascript(cars_bundle):
    """One table of cases (tests/cases/notes.json): Python and web/notes.js agree."""
    base = NOTES["base"]
    rows = [{**base, **case["set"]} for case in NOTES["cases"]]
    python = [cars_bundle.notes({k: [v] for k, v in row.items()})[0] for row in rows]
    web = ROOT / "src" / "mlbridge" / "web"
    done = subprocess.run(
        ["node", "--input-type=module", "-e", _NOTES_IN_NODE, (web / "inputs.js").as_uri(),
         (web / "notes.js").as_uri(), json.dumps(cars_bundle.metadata), json.dumps(rows)],
        capture_output=True, text=True, check=True)
    javascript = json.loads(done.stdout)
    for case, ours, theirs in zip(NOTES["cases"], python, javascript, strict=True):
        assert ours == theirs == case["notes"], case["name"]
