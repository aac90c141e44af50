"""Training and export with real TensorFlow and the real TF.js converter."""

from __future__ import annotations

import csv
import json
import math
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
    assert meta["inputs"] == [{"name": "twitter_followers", "transform": "log",
                               "min": 1.0, "max": 111024636.0}]
    assert meta["output"]["name"] == "popularity"
    assert meta["files"]["web/model.json"] > 0
    web = json.loads((artists_bundle.path / "web/metadata.json").read_text())
    assert web["inputs"] == meta["inputs"] and "data" not in web


def test_model_json_is_a_graph_model_taking_raw_features(artists_bundle):
    model_json = json.loads((artists_bundle.path / "web/model.json").read_text())
    assert model_json["format"] == "graph-model"
    signature = model_json["signature"]
    (name,) = signature["inputs"]
    assert name == "features"
    dims = [int(d["size"]) for d in signature["inputs"][name]["tensorShape"]["dim"]]
    assert dims == [-1, 1]
    ops = {node["op"] for node in model_json["modelTopology"]["node"]}
    assert {"Log1p", "Maximum", "Minimum"} <= ops  # log and clip live in the graph
    (group,) = model_json["weightsManifest"]
    assert group["paths"] == ["group1-shard1of1.bin"]


def test_linear_model_reaches_least_squares(artists_bundle):
    metrics = artists_bundle.metrics
    least_squares = metrics["baselines"]["least_squares"]["mse"]
    assert metrics["test"]["mse"] <= 1.02 * least_squares
    assert metrics["test"]["mse"] < metrics["baselines"]["mean"]["mse"]
    assert 0.2 < metrics["test"]["r2"] < 0.5


def test_saved_model_equals_keras_and_takes_raw_values(artists_bundle):
    import tensorflow as tf

    saved = tf.saved_model.load(str(artists_bundle.path / "saved_model"))
    from_graph = saved.serve(tf.constant(FOLLOWERS, tf.float32)).numpy().reshape(-1)
    from_keras = artists_bundle.predict({"twitter_followers": FOLLOWERS[:, 0]})
    np.testing.assert_allclose(from_graph, from_keras, rtol=1e-6, atol=1e-5)

    # The same numbers by hand from the weights: log1p, normalize, dense, rescale, clip.
    model = artists_bundle.model
    norm = model.get_layer("normalize")
    kernel, bias = model.get_layer("standardized_output").get_weights()
    meta = artists_bundle.metadata["model"]
    z = (np.log1p(FOLLOWERS) - np.asarray(norm.mean)) / np.sqrt(np.asarray(norm.variance))
    by_hand = np.clip((z @ kernel + bias) * meta["target_std"] + meta["target_mean"], 0, 100)
    np.testing.assert_allclose(from_graph, by_hand.reshape(-1), rtol=1e-5, atol=1e-4)
    assert from_graph[-1] <= 100 and from_graph.min() >= 0


def test_load_predicts_the_same_as_the_trained_bundle(artists_bundle):
    loaded = mlbridge.load(artists_bundle.path)
    assert loaded.features == ["twitter_followers"]
    np.testing.assert_allclose(loaded.predict({"twitter_followers": [1000, 2e6]}),
                               artists_bundle.predict({"twitter_followers": [1000, 2e6]}),
                               rtol=1e-6)


def test_predict_checks_its_inputs(artists_bundle):
    with pytest.raises(DataError, match="missing feature 'twitter_followers'"):
        artists_bundle.predict({"followers": [1]})
    with pytest.raises(DataError, match="not a number: 'many'"):
        artists_bundle.predict({"twitter_followers": ["many"]})


def test_predict_table_marks_unusable_rows(artists_bundle):
    frame = pd.DataFrame({"handle": ["a", "b", "c"], "twitter_followers": ["1000", "", "x"]})
    result = artists_bundle.predict_table(frame)
    assert not math.isnan(result["predicted_popularity"][0])
    assert result["predicted_popularity"][1:].isna().all()
    assert list(result["predicted_popularity_reason"]) == [
        "", "missing twitter_followers", "twitter_followers not a number"]


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
    assert "403 rows read, 400 used" in result.stdout
    assert "missing followers" in result.stdout and "followers not a number" in result.stdout
    assert f"mlbridge predict {out} followers=1000" in " ".join(result.stdout.split())
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["key"] == "name" and meta["data"]["sep"] == ";"
    assert meta["data"]["rows_dropped"] == {"missing followers": 1, "followers not a number": 1,
                                            "missing artist_popularity": 1}

    one = run_cli("predict", str(out), "followers=250000")
    assert one.code == 0, one.stderr
    single = float(one.stdout)
    assert meta["output"]["min"] <= single <= meta["output"]["max"]

    rows = tmp_path / "rows.csv"
    rows.write_text("name,followers\nbig,250000\nbad,oops\nnone,\n")
    many = run_cli("predict", str(out), "--data", str(rows), "--out", str(tmp_path / "p.csv"))
    assert many.code == 0, many.stderr
    assert "2 without a prediction" in many.stderr
    table = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    assert list(table.columns) == ["name", "followers", "predicted_artist_popularity",
                                   "predicted_artist_popularity_reason"]
    assert float(table["predicted_artist_popularity"][0]) == pytest.approx(single, abs=1e-4)
    assert list(table["predicted_artist_popularity_reason"]) == [
        "", "followers not a number", "missing followers"]


def test_report_with_plots_opens_from_disk(artists_bundle):
    report = (artists_bundle.path / "report.html").read_text()
    for name in ("loss", "fit", "residuals"):
        png = artists_bundle.path / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        assert f'src="plots/{name}.png"' in report
    assert not re.search(r'(src|href)="(https?:)?//', report)  # nothing from the network
    test_mse = artists_bundle.metrics["test"]["mse"]
    assert f"{test_mse:.2f}" in report and "least squares" in report
    assert "<td>read</td><td>1,791</td>" in report
    assert "Not checked yet" in report or "standalone-node" in report
