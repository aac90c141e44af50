"""Section 13: free text as a column kind, for quality and for size.

Quality: cars.csv's Name as text (a bag of words), against the same model without it
and against scikit-learn's CountVectorizer + Ridge on the same rows and the same other
inputs. Size: a generated table whose titles are drawn from vocabularies of 1,000,
10,000 and 50,000 words, each word with its own effect on the target, trained with the
cap at the vocabulary's size: time, peak memory, and the files the browser downloads.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from common import BIN, ROOT, Sizes, goal, log, table, timed

CARS = ROOT / "data" / "cars.csv"


def make_titles(out: Path, rows: int, words: int, seed: int = 0) -> Path:
    """A table of `rows` titles of 3-8 words drawn (Zipf, a = 1.1) from `words` words
    ("w0" ... ), each word with its own effect on `y`, beside one number. Not real data."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 1.0, words)
    counts = rng.integers(3, 9, rows)
    drawn = np.minimum(rng.zipf(1.1, counts.sum()) - 1, words - 1)
    number = rng.normal(0.0, 1.0, rows)
    ends = np.cumsum(counts)
    titles, y = [], np.empty(rows)
    for i, chosen in enumerate(np.split(drawn, ends[:-1])):
        unique = np.unique(chosen)
        titles.append(" ".join(f"w{w}" for w in chosen))
        y[i] = effect[unique].sum() + 0.5 * number[i] + rng.normal(0.0, 0.5)
    pd.DataFrame({"title": titles, "number": number.round(4), "y": y.round(4)}).to_csv(
        out, index=False)
    return out


def quality(work: Path) -> tuple[str, float, float]:
    """cars.csv: Name as text vs without it vs CountVectorizer + Ridge, one split."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_squared_error

    from mlbridge import train
    from mlbridge.dataset import load_dataset
    from mlbridge.features import choose_columns, encode
    from mlbridge.kinds import words

    target = "Miles_per_Gallon"
    with_text = train(CARS, target=target, interval=0, out=work / "cars_text")
    without = train(CARS, target=target, key="Name", interval=0, out=work / "cars_no_text")
    dataset = load_dataset(CARS, target, None, None)
    others = [c for c in choose_columns(dataset).columns if c.kind != "text"]
    vectorizer = CountVectorizer(analyzer=words, binary=True, min_df=2)
    fitted = vectorizer.fit_transform(dataset.train["Name"]).toarray()
    x_train = np.hstack([encode(others, dataset.train), fitted])
    x_test = np.hstack([encode(others, dataset.test),
                        vectorizer.transform(dataset.test["Name"]).toarray()])
    y_train = dataset.train[target].to_numpy(np.float64)
    y_test = dataset.test[target].to_numpy(np.float64)
    ridge = mean_squared_error(y_test, Ridge().fit(x_train, y_train).predict(x_test))
    ours, theirs_without = with_text.metrics["test"]["mse"], without.metrics["test"]["mse"]
    name = next(s for s in with_text.metadata["inputs"] if s["name"] == "Name")
    rows = [["mlbridge linear, Name as text (the default)", f"{ours:.2f}",
             f"{len(name['vocabulary']):,} words"],
            ["mlbridge linear, without Name (`--key Name`)", f"{theirs_without:.2f}", ""],
            ["scikit-learn CountVectorizer (same words, min_df=2) + Ridge(alpha=1)",
             f"{ridge:.2f}", f"{fitted.shape[1]:,} words"]]
    return table(["model (cars.csv, the default split, no interval)", "test MSE", "text"],
                 rows), ours, ridge


def sizes_table(sizes: Sizes, work: Path) -> str:
    rows = []
    for vocabulary in (1_000, 10_000, 50_000):
        log(f"text: {sizes.large_rows:,} titles from {vocabulary:,} words")
        data = make_titles(work / f"titles-{vocabulary}.csv", sizes.large_rows, vocabulary)
        out = work / f"titles-{vocabulary}"
        try:
            seconds, rss, _ = timed([str(BIN / "mlbridge"), "train", str(data), "--target",
                                     "y", "--text", "title", "--max-words", str(vocabulary),
                                     "--interval", "0", "--out", str(out), "-q"])
        except RuntimeError as exc:
            rows.append([f"{vocabulary:,}", "—", "—", "—", "—", "—", f"failed: {exc}"])
            continue
        meta = json.loads((out / "metadata.json").read_text())
        kept = len(next(s for s in meta["inputs"] if s["name"] == "title")["vocabulary"])
        files = meta["files"]
        graph = sum(v for k, v in files.items() if k == "web/model.json" or k.endswith(".bin"))
        how = "closed form" if meta["model"].get("fit") else (
            f"{meta['model']['epochs_run']} epochs")
        rows.append([f"{vocabulary:,}", f"{kept:,}", f"{seconds:.1f} s ({how})",
                     f"{rss / 2**30:.2f} GiB", f"{files.get('web/predict.mjs', 0) / 1024:,.0f} KiB",
                     f"{graph / 1024:,.0f} KiB", f"{meta['metrics']['test']['mse']:.3f}"])
    return table(["vocabulary", "words kept", "`mlbridge train`", "peak memory",
                  "predict.mjs", "model.json + weights", "test MSE"], rows)


def text_section(sizes: Sizes, work: Path) -> str:
    log("text: cars.csv's Name as text, and vocabularies of 1,000 to 50,000 words")
    quality_table, ours, ridge = quality(work)
    difference = ours / ridge - 1
    return ("Quality on `cars.csv` (the default split; no interval, so every training row "
            "fits, as scikit-learn's do):\n\n" + quality_table + "\n\n"
            + "- Goal: within 2% of scikit-learn's CountVectorizer + Ridge. "
            + goal(difference <= 0.02, f"{difference:+.1%} ({ours:.2f} vs {ridge:.2f}).")
            + f"\n\nSize: {sizes.large_rows:,} generated titles (3-8 words each, Zipf "
            "a = 1.1 over the vocabulary, each word with its own effect on y; not real data), "
            "trained with `--text title --max-words` the vocabulary's size, one process "
            "each. Up to 8,192 encoded numbers a row a linear model is solved in closed "
            "form (XᵀX in float64: 512 MB at most); past that it trains by epochs, with "
            "batches fed as they are needed.\n\n" + sizes_table(sizes, work) + "\n")
