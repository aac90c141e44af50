"""Section 7: tables as they come: categories, gaps, the vocabulary cap, a million rows."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pandas as pd
from common import BIN, ROOT, Sizes, goal, log, ratio, table, timed
from large_file import make_large_cars

#: (file, target, key) of the real tables the quality goal is stated on.
REAL_TABLES = [("cars.csv", "Miles_per_Gallon", "Name"), ("penguins.csv", "body_mass_g", None)]
CAPS = (25, 100, 300, 1000, 3000)


def quality(work: Path) -> tuple[str, list[bool]]:
    """mlbridge linear vs least squares on the same encoded features, same split."""
    from mlbridge import train

    rows, met = [], []
    for name, target, key in REAL_TABLES:
        bundle = train(ROOT / "data" / name, target=target, key=key, out=work / name)
        metrics = bundle.metrics
        ours, lsq = metrics["test"]["mse"], metrics["baselines"]["least_squares"]["mse"]
        kinds = [i["kind"] for i in bundle.metadata["inputs"]]
        met.append(ours <= 1.02 * lsq)
        rows.append([f"`{name}` → {target}", f"{kinds.count('numeric')} numeric, "
                     f"{kinds.count('categorical')} categorical",
                     f"{ours:,.2f}", f"{lsq:,.2f}", f"{100 * (ours / lsq - 1):+.1f}%",
                     f"{metrics['baselines']['mean']['mse']:,.2f}"])
    text = ("`mlbridge train FILE --target T` with every useful column (one-hot categories, "
            "imputed gaps), against closed-form least squares on exactly the same encoded "
            "features and split.\n\n"
            + table(["table", "inputs", "linear test MSE", "least squares", "difference",
                     "predict the mean"], rows) + "\n\n"
            + "- Goal: linear within 2% of least squares on both. "
            + goal(all(met), ", ".join(r[4] for r in rows) + ".") + "\n")
    return text, met


def synthetic_categories(rows: int, categories: int, seed: int = 0) -> pd.DataFrame:
    """A table whose category matters: Zipf-distributed values with N(0, 1) effects.

    Not real data: no table of this shape is bundled, so it is generated (seeded) to see
    what capping the vocabulary costs when most values are rare.
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, categories + 1) ** 1.1
    codes = rng.choice(categories, rows, p=weights / weights.sum())
    effect = rng.normal(0.0, 1.0, categories)
    x = rng.normal(0.0, 1.0, rows)
    y = 2.0 * x + effect[codes] + rng.normal(0.0, 1.0, rows)
    return pd.DataFrame({"x": x.astype(str), "genre": [f"g{c}" for c in codes], "y": y})


def vocabulary_cap(sizes: Sizes) -> str:
    """Test MSE of least squares on the encoding, for each cap, on the synthetic table."""
    from mlbridge.evaluate import least_squares, regression_metrics
    from mlbridge.features import EncodedSplits, graph_inputs
    from mlbridge.kinds import MAX_VOCABULARY, MIN_COUNT, CategoricalColumn, NumericColumn

    frame = synthetic_categories(sizes.cap_rows, 1000)
    cut = int(0.8 * len(frame))
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    y_train, y_test = train["y"].to_numpy(), test["y"].to_numpy()
    x = NumericColumn.fit("x", "x", train["x"], "none")
    results = {}
    for cap in CAPS:
        genre = CategoricalColumn.fit("genre", "genre", train["genre"], max_vocabulary=cap)
        columns = [x, genre]
        encoded = EncodedSplits(columns, graph_inputs(columns, train),
                                graph_inputs(columns, test), y_train, y_test)
        fitted = least_squares(encoded.train_blocks(), encoded.test_blocks(), (-1e9, 1e9))
        results[cap] = (len(genre.vocabulary), regression_metrics(y_test, fitted)["mse"])
    best = min(mse for _, mse in results.values())
    rows = [[f"{cap:,}" + (" (default)" if cap == MAX_VOCABULARY else ""), f"{kept:,}",
             f"{mse:.4f}", f"{100 * (mse / best - 1):+.1f}%"]
            for cap, (kept, mse) in results.items()]
    return (f"Generated table ({sizes.cap_rows:,} rows, 80/20 split): one category with 1,000 "
            f"Zipf-distributed values, each with its own effect, beside one number. Values "
            f"seen fewer than {MIN_COUNT} times are folded whatever the cap; least squares on "
            "the encoding measures what the cap alone costs (the linear model reaches least "
            "squares, above).\n\n"
            + table(["cap", "values kept", "test MSE", "vs best"], rows) + "\n\n"
            + f"A cap of {MAX_VOCABULARY:,} keeps every value with at least {MIN_COUNT} rows "
            "here; 100 folds many informative values into one slot.\n")


def embedding(sizes: Sizes) -> str:
    """dnn with one-hot categories (mlbridge) vs an 8-wide Embedding, same table."""
    from mlbridge._tf import quiet_tensorflow
    from mlbridge.evaluate import regression_metrics
    from mlbridge.heads import RegressionHead
    from mlbridge.kinds import CategoricalColumn, NumericColumn
    from mlbridge.model import TrainingConfig, fit, serving_model
    from mlbridge.passes import Moments
    from mlbridge.serving import serving_values, tensors

    _, keras = quiet_tensorflow()
    frame = synthetic_categories(sizes.cap_rows, 1000, seed=1)
    cut = int(0.8 * len(frame))
    train, test = frame.iloc[:cut], frame.iloc[cut:]
    y_train, y_test = train["y"].to_numpy(), test["y"].to_numpy()
    columns = [NumericColumn.fit("x", "x", train["x"], "none"),
               CategoricalColumn.fit("genre", "genre", train["genre"])]
    head = RegressionHead.fit("y", Moments.of(y_train))
    x_train = {c.input: c.values(train[c.name]) for c in columns}
    x_test = {c.input: c.values(test[c.name]) for c in columns}
    config = TrainingConfig(kind="dnn", epochs=sizes.embedding_epochs)
    one_hot = fit(columns, x_train, y_train, head, config)
    serving = serving_model(one_hot.training, head)
    ours = regression_metrics(y_test, serving_values(serving, columns, x_test)[:, 0])["mse"]

    keras.utils.set_random_seed(0)
    number = keras.Input(shape=(1,), name="x")
    text = keras.Input(shape=(1,), name="genre", dtype="string")
    ids = keras.layers.StringLookup(vocabulary=["", *columns[1].vocabulary])(text)
    vectors = keras.layers.Flatten()(keras.layers.Embedding(columns[1].width, 8)(ids))
    h = keras.layers.Concatenate()([columns[0].layer()(number), vectors])
    for _ in range(2):
        h = keras.layers.Dense(64, activation="relu")(h)
    model = keras.Model({"x": number, "genre": text}, keras.layers.Dense(1)(h))
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="mse")
    model.fit(tensors(columns, x_train), head.training_target(y_train), validation_split=0.2,
              epochs=sizes.embedding_epochs, batch_size=one_hot.config.batch_size, verbose=0,
              callbacks=[keras.callbacks.EarlyStopping(patience=15, restore_best_weights=True)])
    standardized = model.predict(tensors(columns, x_test), verbose=0).reshape(-1)
    theirs = regression_metrics(y_test, standardized * head.std + head.mean)["mse"]
    width = columns[1].width
    return ("`--model dnn` on a second generated table of the same shape: mlbridge's one-hot "
            f"encoding ({width:,} slots into a 64-unit layer, which is itself a learnt "
            "64-wide embedding) against an 8-wide `Embedding` layer, same split, same early "
            "stopping.\n\n"
            + table(["encoding", "test MSE", "weights for the category"],
                    [["one-hot (mlbridge)", f"{ours:.4f}", f"{width * 64:,}"],
                     ["Embedding(8)", f"{theirs:.4f}", f"{width * 8 + 8 * 64:,}"]]) + "\n\n"
            + (f"The embedding is within 2% of one-hot here ({100 * (theirs / ours - 1):+.1f}% "
               "squared error), so mlbridge keeps one-hot: one encoding for both model kinds, "
               "and predict.mjs stays a lookup and a sum; the embedding's gain is size."
               if theirs >= 0.98 * ours else
               f"The embedding is better here by {100 * (1 - theirs / ours):.1f}%: worth "
               "adding for dnn.") + "\n")


def million_rows(sizes: Sizes, work: Path) -> tuple[str, bool]:
    """cars.csv resampled to a million rows: train and export with every column."""
    data = make_large_cars(work / "cars-large.csv", sizes.large_rows)
    out = work / "cars-large"
    runs = [timed([str(BIN / "mlbridge"), "train", str(data), "--target", "Miles_per_Gallon",
                   "--key", "Name", "--out", str(out), "--quiet"])
            for _ in range(max(1, sizes.repeats - 1))]
    seconds = statistics.median(r[0] for r in runs)
    peak = max(r[1] for r in runs) / 2**30
    meta = json.loads((out / "metadata.json").read_text())
    met = seconds <= 60 and peak <= 3
    rows = [["rows read", f"{meta['data']['rows_read']:,}"],
            ["inputs", ", ".join(f"{i['name']} ({i['kind']})" for i in meta["inputs"])],
            ["`mlbridge train` wall time (CSV → bundle)", f"{seconds:.1f} s"],
            ["peak memory (max RSS)", f"{peak:.2f} GiB"],
            ["epochs run / batch size",
             f"{meta['model']['epochs_run']} / {meta['model']['batch_size']}"],
            ["test MSE vs least squares", f"{meta['metrics']['test']['mse']:.2f} vs "
             f"{meta['metrics']['baselines']['least_squares']['mse']:.2f}"]]
    return (f"`data/cars.csv` resampled to {sizes.large_rows:,} rows by "
            "`bench/large_file.py` (measurements jittered ±5%, gaps kept, `Origin` the "
            "category); not real data.\n\n" + table(["what", "figure"], rows) + "\n\n"
            + "- Goal: train and export within 60 s and 3 GiB. "
            + goal(met, f"{seconds:.1f} s, {peak:.2f} GiB ({ratio(60, seconds)} under the "
                   "time budget).") + "\n"), met


def tables(sizes: Sizes, work: Path) -> str:
    log("tables: categories and gaps (quality, vocabulary cap, embedding, a million rows)")
    quality_text, _ = quality(work)
    million_text, _ = million_rows(sizes, work)
    return ("### Linear models with categories\n\n" + quality_text
            + "\n### The vocabulary cap\n\n" + vocabulary_cap(sizes)
            + "\n### One-hot or embedding for dnn\n\n" + embedding(sizes)
            + "\n### A million rows with a category\n\n" + million_text)
