"""Tables bigger than memory, made small: a sample of a few rows stands in for a sample of
a million, batches of a few dozen rows for batches of 262,144, and what must hold at
scale is checked here, on real tables: the sample is the same whatever the order, the
exact fit and the test metrics see every row, scores added batch by batch are the
scores of the whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import ARTISTS, CARS, PENGUINS
from sklearn.metrics import f1_score, log_loss, roc_auc_score

import mlbridge.tables as tables
from mlbridge import train
from mlbridge.dataset import load_dataset
from mlbridge.evaluate import ClassificationScore, RegressionScore, regression_metrics
from mlbridge.sampling import BottomK, Sides


def test_the_sample_is_the_same_whatever_the_order_and_the_batches():
    frame = pd.read_csv(ARTISTS, dtype=str, keep_default_na=False)
    kept = []
    for order, size in ((np.arange(len(frame)), 100), (np.arange(len(frame))[::-1], 37),
                        (np.random.default_rng(1).permutation(len(frame)), 1000)):
        sample = BottomK(250)
        shuffled = frame.iloc[order]
        for start in range(0, len(shuffled), size):
            batch = shuffled.iloc[start:start + size]
            sides = Sides(batch, seed=0, key="handle")
            sample.offer(batch, sides.draw, sides.calibration)
        kept.append(sample.frame["handle"].tolist())
    assert kept[0] == kept[1] == kept[2] and len(kept[0]) == 250


def test_a_table_read_in_batches_is_split_as_it_is_read_whole(tmp_path, monkeypatch):
    pq.write_table(pa.Table.from_pandas(pd.read_csv(CARS), preserve_index=False),
                   tmp_path / "cars.parquet")
    whole = load_dataset(tmp_path / "cars.parquet", "Miles_per_Gallon", None, "Name")
    monkeypatch.setattr(tables, "BATCH_ROWS", 64)  # seven batches instead of one
    batched = load_dataset(tmp_path / "cars.parquet", "Miles_per_Gallon", None, "Name")
    assert batched.test.index.equals(whole.test.index)
    assert batched.train.index.equals(whole.train.index)
    assert batched.target_stats == pytest.approx(whole.target_stats, rel=1e-12)
    sampled = load_dataset(tmp_path / "cars.parquet", "Miles_per_Gallon", None, "Name",
                           sample_rows=100)
    assert not sampled.whole and len(sampled.train) == 100 and len(sampled.test) == 25
    assert (sampled.rows_train, sampled.rows_test) == (whole.rows_train, whole.rows_test)
    assert set(sampled.train.index) <= set(whole.train.index)
    again = pd.concat(list(sampled.stream("test")))
    assert again.index.equals(whole.test.index.sort_values())  # every test row, again
    fitted = pd.concat(list(sampled.stream("fit")))
    assert fitted.index.equals(whole.train.index[~whole.calibration].sort_values())


def test_scores_added_batch_by_batch_are_the_scores_of_the_whole():
    rng = np.random.default_rng(0)
    y = rng.normal(1e6, 3, 5000)
    predicted = y + rng.normal(0, 1, 5000)
    batched = RegressionScore()
    for start in range(0, 5000, 700):
        batched.add(y[start:start + 700], predicted[start:start + 700])
    assert batched.result() == pytest.approx(regression_metrics(y, predicted), rel=1e-9)
    for classes in (2, 3):
        probabilities = rng.dirichlet(np.ones(classes), 4000)
        labels = rng.integers(0, classes, 4000)
        score = ClassificationScore(classes)
        for start in range(0, 4000, 999):
            score.add(labels[start:start + 999], probabilities[start:start + 999])
        found = score.result()
        assert found["log_loss"] == pytest.approx(log_loss(labels, probabilities), rel=1e-9)
        assert found["macro_f1"] == pytest.approx(
            f1_score(labels, probabilities.argmax(1), average="macro"), rel=1e-9)
        if classes == 2:
            assert found["roc_auc"] == pytest.approx(
                roc_auc_score(labels, probabilities[:, 1]), abs=1e-6)


def test_a_sampled_linear_regression_is_fitted_exactly_on_every_row(tmp_path):
    whole = train(out=tmp_path / "whole")
    sampled = train(out=tmp_path / "sampled", sample_rows=200)
    data = sampled.metadata["data"]
    assert data["sample"]["rows_train"] == 200 and "sample" not in whole.metadata["data"]
    assert data["rows_train"] == whole.metadata["data"]["rows_train"]
    assert data["rows_fit"] == whole.metadata["data"]["rows_fit"]  # every row, not 200
    # the same least-squares optimum, scored on the same (every) test row
    assert sampled.metrics["rows"] == whole.metrics["rows"] == data["rows_test"]
    assert sampled.metrics["test"]["mse"] == pytest.approx(whole.metrics["test"]["mse"],
                                                           rel=1e-6)


def test_a_sampled_classifier_learns_from_the_sample_and_is_scored_on_every_row(tmp_path):
    bundle = train(PENGUINS, target="species", out=tmp_path / "penguins", sample_rows=120)
    data = bundle.metadata["data"]
    assert data["sample"]["rows_train"] == 120 and data["rows_train"] > 120
    assert bundle.metrics["rows"] == data["rows_test"]
    assert sum(map(sum, bundle.metrics["confusion"])) == data["rows_test"]
    assert bundle.metrics["test"]["accuracy"] > 0.9
    assert sum(bundle.metadata["output"]["train_counts"]) == data["rows_train"]
