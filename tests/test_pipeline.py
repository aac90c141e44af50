"""Training and export with real TensorFlow and the real TF.js converter."""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import ARTISTS, run_cli, tree_digest

import mlbridge
from mlbridge.errors import DataError, ExportError

FOLLOWERS = np.array([[1.0], [1_000.0], [90_836.0], [2_000_000.0], [111_024_636.0], [1e12]])


def test_bundle_has_every_file_of_the_contract(artists_bundle):
    for name in ("metadata.json", "model.keras", "saved_model/saved_model.pb", "test.csv",
                 "web/model.json", "web/group1-shard1of1.bin", "web/metadata.json"):
        assert (artists_bundle.path / name).is_file(), name
    meta = json.loads((artists_bundle.path / "metadata.json").read_text())
    for key in ("schema_version", "created", "data", "inputs", "output", "model", "metrics",
                "files", "parity", "versions"):
        assert key in meta, key
    assert meta["data"]["rows_read"] == 1791 and meta["data"]["rows_dropped"] == {}
    assert meta["schema_version"] == 2
    (spec,) = meta["inputs"]
    assert {k: spec[k] for k in ("name", "input", "kind", "dtype", "transform", "min", "max",
                                 "fill", "missing_indicator")} == {
        "name": "twitter_followers", "input": "twitter_followers", "kind": "numeric",
        "dtype": "float32", "transform": "log", "min": 2.0, "max": 107920365.0,
        "fill": 94918.5, "missing_indicator": False}  # the training median
    assert meta["data"]["test_sample"]["rows"] == 373
    assert meta["output"]["name"] == "popularity"
    assert meta["files"]["web/model.json"] > 0
    web = json.loads((artists_bundle.path / "web/metadata.json").read_text())
    assert web["inputs"] == meta["inputs"] and "data" not in web


def test_model_json_is_a_graph_model_taking_raw_features(artists_bundle):
    model_json = json.loads((artists_bundle.path / "web/model.json").read_text())
    assert model_json["format"] == "graph-model"
    signature = model_json["signature"]
    (name,) = signature["inputs"]  # one numeric feature: one input, as the recipe's page needs
    assert name == "twitter_followers"
    dims = [int(d["size"]) for d in signature["inputs"][name]["tensorShape"]["dim"]]
    assert dims == [-1, 1]
    ops = {node["op"] for node in model_json["modelTopology"]["node"]}
    assert {"IsNan", "SelectV2", "Log1p", "Maximum", "Minimum"} <= ops  # all in the graph


def test_categorical_bundle_takes_one_named_raw_input_per_feature(penguins_bundle):
    model_json = json.loads((penguins_bundle.path / "web/model.json").read_text())
    inputs = {v["name"]: v["dtype"] for v in model_json["signature"]["inputs"].values()}
    assert inputs["island:0"] == "DT_STRING" and inputs["year:0"] == "DT_FLOAT"
    ops = {node["op"] for node in model_json["modelTopology"]["node"]}
    assert {"LookupTableFindV2", "OneHot"} <= ops
    island = next(i for i in penguins_bundle.metadata["inputs"] if i["name"] == "island")
    assert island["kind"] == "categorical" and len(island["vocabulary"]) == 3
    (group,) = model_json["weightsManifest"]
    assert group["paths"] == ["group1-shard1of1.bin"]


def test_linear_model_reaches_least_squares(artists_bundle):
    metrics = artists_bundle.metrics
    least_squares = metrics["baselines"]["least_squares"]["mse"]
    # Fitted in closed form on the same rows: the optimum itself, to float32 rounding.
    assert metrics["test"]["mse"] == pytest.approx(least_squares, rel=1e-4)
    assert metrics["test"]["mse"] < metrics["baselines"]["mean"]["mse"]
    assert 0.2 < metrics["test"]["r2"] < 0.5


def test_saved_model_equals_keras_and_takes_raw_values(artists_bundle):
    import tensorflow as tf

    saved = tf.saved_model.load(str(artists_bundle.path / "saved_model"))
    feeds = {"twitter_followers": tf.constant(FOLLOWERS, tf.float32)}
    from_graph = saved.serve(feeds).numpy()[:, 0]
    from_keras = artists_bundle.predict({"twitter_followers": FOLLOWERS[:, 0]})
    np.testing.assert_allclose(from_graph, from_keras, rtol=1e-6, atol=1e-5)

    # The same numbers by hand from the weights: log1p, normalize, dense, rescale, clip.
    (spec,) = artists_bundle.metadata["inputs"]
    kernel, bias = artists_bundle.model.get_layer("standardized_output").get_weights()
    out = artists_bundle.metadata["output"]
    z = (np.log1p(FOLLOWERS) - spec["mean"]) / spec["std"]
    by_hand = np.clip((z @ kernel + bias) * out["std"] + out["mean"], 0, 100)
    np.testing.assert_allclose(from_graph, by_hand.reshape(-1), rtol=1e-5, atol=1e-4)
    assert from_graph[-1] <= 100 and from_graph.min() >= 0


def test_load_predicts_the_same_as_the_trained_bundle(artists_bundle):
    loaded = mlbridge.load(artists_bundle.path)
    assert loaded.features == ["twitter_followers"]
    np.testing.assert_allclose(loaded.predict({"twitter_followers": [1000, 2e6]}),
                               artists_bundle.predict({"twitter_followers": [1000, 2e6]}),
                               rtol=1e-6)


def test_predict_checks_its_inputs(artists_bundle):
    with pytest.raises(DataError, match='unknown feature "twitter_folowers" '
                                        r'\(did you mean "twitter_followers"\?\)'):
        artists_bundle.predict({"twitter_folowers": [1]})
    with pytest.raises(DataError, match='not a number: "many"'):
        artists_bundle.predict({"twitter_followers": ["many"]})
    both = artists_bundle.predict({"twitter_followers": [1000], "handle": ["x"],
                                   "popularity": [3]})  # a whole record: key and target ignored
    assert both == pytest.approx(artists_bundle.predict({"twitter_followers": 1000}))


def test_penguins_from_the_readme_with_features_left_out(species_bundle):
    """The issue's own example: the API treats a feature left out as missing, as the CLI
    and the page do, and says so in its notes."""
    rows = {"island": ["Dream"], "bill_length_mm": [49], "sex": ["female"]}
    (probabilities,) = species_bundle.predict(rows)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)
    assert any("bill_depth_mm is missing" in note for note in species_bundle.notes(rows)[0])


def test_missing_values_are_imputed_with_the_training_median(artists_bundle):
    fill = artists_bundle.metadata["inputs"][0]["fill"]
    missing, median = artists_bundle.predict({"twitter_followers": [None, fill]})
    assert missing == pytest.approx(median, abs=1e-4)
    frame = pd.DataFrame({"handle": ["a", "b", "c"], "twitter_followers": ["1000", "", "x"]})
    result = artists_bundle.predict_table(frame)  # a file is read as training read it
    assert list(result.columns) == ["handle", "twitter_followers", "predicted_popularity",
                                    "popularity_lower", "popularity_upper", "notes"]
    assert result["predicted_popularity"][1] == pytest.approx(median, abs=1e-4)
    # "x" is not a number: no prediction for its row, and a note that says so, not "missing".
    assert np.isnan(result["predicted_popularity"][2])
    assert result["notes"][2] == 'twitter_followers: "x" is not a number'


def test_every_way_to_predict_agrees_with_unseen_and_missing_values(cars_bundle, tmp_path):
    rows = {"Cylinders": [4, None, "8"], "Displacement": [97, 350, None],
            "Horsepower": [None, 165, 88], "Weight_in_lbs": [2130, None, 3000],
            "Acceleration": [14.5, 12, None], "Origin": ["Japan", "Atlantis", ""]}
    from_api = cars_bundle.predict(rows)
    assert np.isfinite(from_api).all() and len(set(from_api.round(3))) == 3
    import tensorflow as tf

    from mlbridge.inputs import check_inputs
    from mlbridge.serving import tensors

    saved = tf.saved_model.load(str(cars_bundle.path / "saved_model"))
    feeds = tensors(cars_bundle.columns, check_inputs(rows, cars_bundle.metadata["inputs"]))
    np.testing.assert_allclose(saved.serve(feeds).numpy()[:, 0], from_api, rtol=1e-5)
    text = {k: ["" if v is None else str(v) for v in vs] for k, vs in rows.items()}
    table = tmp_path / "rows.csv"
    pd.DataFrame({"Name": ["a", "b", "c"], **text}).to_csv(table, index=False)
    result = run_cli("predict", str(cars_bundle.path), "--data", str(table), "--out", "-")
    assert result.code == 0, result.stderr
    written = pd.read_csv(io.StringIO(result.stdout))
    np.testing.assert_allclose(written["predicted_Miles_per_Gallon"], from_api, rtol=1e-5)
    one = run_cli("predict", str(cars_bundle.path), "Cylinders=4", "Displacement=97",
                  "Weight_in_lbs=2130", "Acceleration=14.5", "Origin=Japan")
    assert one.code == 0, one.stderr
    value = float(one.stdout.split()[0])  # then the interval's ends
    assert value == pytest.approx(from_api[0], abs=1e-4)  # Horsepower: missing


def test_unseen_category_answers_as_the_training_average(penguins_bundle):
    """A slot no training row used gets the frequency-weighted mean of the others' weights."""
    assert penguins_bundle.metadata["model"]["unseen_slots"]["island"] == ["other", "missing"]
    from mlbridge.kinds import CategoricalColumn, Column

    island = Column.from_json(next(i for i in penguins_bundle.metadata["inputs"]
                                   if i["name"] == "island"))
    assert isinstance(island, CategoricalColumn)
    base = {"species": "Adelie", "bill_length_mm": 40, "bill_depth_mm": 18,
            "flipper_length_mm": 190, "sex": "male", "year": 2008}
    def predict(islands: list) -> np.ndarray:
        return penguins_bundle.predict({**{k: [v] * len(islands) for k, v in base.items()},
                                        "island": islands})

    known = predict(island.vocabulary)
    unseen, missing = predict(["Atlantis", None])
    assert unseen == pytest.approx(missing, abs=1e-3)
    assert known.min() - 1e-3 <= unseen <= known.max() + 1e-3


@pytest.mark.parametrize("fixture", ["cars_bundle", "penguins_bundle"])
def test_linear_model_with_categories_reaches_least_squares(fixture, request):
    metrics = request.getfixturevalue(fixture).metrics
    assert metrics["test"]["mse"] == pytest.approx(
        metrics["baselines"]["least_squares"]["mse"], rel=1e-4)
    assert metrics["by_value"]  # the report's error by category value


def test_an_older_bundle_is_refused_with_a_way_out(artists_bundle, tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    meta = {**artists_bundle.metadata, "schema_version": 1}
    (old / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"older mlbridge .*schema 1") as raised:
        mlbridge.load(old)
    assert "train it again" in raised.value.hint


@pytest.fixture
def small_csv(tmp_path):
    path = tmp_path / "small.csv"
    pd.read_csv(ARTISTS).sample(200, random_state=0).to_csv(path, index=False)
    return path


def train_small(small_csv, out, **kwargs):
    return mlbridge.train(small_csv, target="popularity", features=["twitter_followers"],
                          key="handle", out=out, epochs=30, **kwargs)


def test_failed_or_interrupted_run_leaves_the_last_bundle_byte_for_byte(
        tmp_path, small_csv, monkeypatch):
    out = tmp_path / "models" / "artists"
    train_small(small_csv, out)
    before = tree_digest(out)

    from mlbridge.export import tfjs

    def broken(*args, **kwargs):
        raise ExportError("converter exploded")

    monkeypatch.setattr(tfjs, "convert_to_graph_model", broken)
    with pytest.raises(ExportError):
        train_small(small_csv, out)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tfjs, "convert_to_graph_model", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_small(small_csv, out)
    assert tree_digest(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["artists"], "temp dirs left behind"


def test_successful_run_replaces_the_bundle(tmp_path, small_csv):
    out = tmp_path / "artists"
    first = train_small(small_csv, out, seed=1)
    second = train_small(small_csv, out, seed=2)
    assert json.loads((out / "metadata.json").read_text())["model"]["seed"] == 2
    assert first.metadata["created"] <= second.metadata["created"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["artists", "small.csv"]


def test_cli_trains_and_predicts_on_a_table_with_other_columns(tmp_path):
    """Another real table: other column names, semicolons, and some unusable rows."""
    source = pd.read_csv(ARTISTS).sample(400, random_state=3)
    path = tmp_path / "spotify.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerow(["name", "followers", "genres", "artist_popularity"])
        for row in source.itertuples():
            writer.writerow([row.handle, row.twitter_followers, "pop", row.popularity])
        writer.writerows([["x1", "-", "pop", "50"], ["x2", "lots", "pop", "50"],
                          ["x3", "100", "pop", ""]])
    out = tmp_path / "bundle"
    result = run_cli("train", str(path), "--target", "artist_popularity",
                     "--features", "followers", "--key", "name", "--out", str(out))
    assert result.code == 0, result.stderr
    assert "403 rows read, 402 used" in result.stdout  # gaps in a feature are imputed
    assert re.search(rf"mlbridge predict {out} followers=\d+", " ".join(result.stdout.split()))
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["key"] == "name" and meta["data"]["sep"] == ";"
    assert meta["data"]["rows_dropped"] == {"missing artist_popularity": 1}

    one = run_cli("predict", str(out), "followers=250000")
    assert one.code == 0, one.stderr
    single = float(one.stdout.split()[0])
    assert meta["output"]["min"] <= single <= meta["output"]["max"]

    rows = tmp_path / "rows.csv"
    rows.write_text("name,followers\nbig,250000\nbad,oops\nnone,\n")
    many = run_cli("predict", str(out), "--data", str(rows), "--out", str(tmp_path / "p.csv"))
    assert many.code == 0, many.stderr
    table = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert list(table.columns) == ["name", "followers", "predicted_artist_popularity",
                                   "artist_popularity_lower", "artist_popularity_upper", "notes"]
    assert float(table["predicted_artist_popularity"][0]) == pytest.approx(single, abs=1e-4)
    # "oops" is not a number: no answer for its row, and a note saying so; a blank is
    # missing, and answered with the training median.
    assert table["predicted_artist_popularity"][1] == ""
    assert table["notes"][1] == 'followers: "oops" is not a number'
    assert "followers is missing" in table["notes"][2]
    assert float(table["predicted_artist_popularity"][2]) > 0


def test_report_with_plots_opens_from_disk(artists_bundle):
    report = (artists_bundle.path / "report.html").read_text()
    for name in ("fit", "residuals"):
        png = artists_bundle.path / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f'src="plots/{name}.png"' in report
    # A linear regression is fitted in closed form: no epochs, so no loss plot to show.
    assert not (artists_bundle.path / "plots" / "loss.png").exists()
    rows = artists_bundle.metadata["data"]["rows_fit"]
    assert f"fitted exactly (least squares, closed form, on {rows:,} rows; no epochs)" in report
    assert not re.search(r'(src|href)="(https?:)?//', report)  # nothing from the network
    test_mse = artists_bundle.metrics["test"]["mse"]
    assert f"{test_mse:.2f}" in report and "least squares" in report
    assert "<td>read</td><td>1,791</td>" in report
    assert "Not checked yet" in report or "standalone-node" in report
