"""The training report: plots of the model and one HTML page that opens from disk.

Plots are drawn once, at training time, from the model and the data. `report.html` is
rendered from metadata.json alone, so `verify` can re-render it with the parity results
without the data or the model.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

#: At most this many points in a scatter plot: enough to see the cloud, fast to draw.
MAX_POINTS = 5000
#: What each plot shows and how to read it: its caption in the report (the plot has its
#: own short title).
CAPTIONS = {
    "loss": "The loss on the rows the model fit (and, for a dnn, on held-out validation "
            "rows) after each epoch; the dotted line marks the epoch whose weights were kept.",
    "fit": "Each point is a row of the table, the line what the model predicts: where the "
           "cloud leaves the line, the model misses.",
    "residuals": "What the model missed by on each test row, against what it predicted: no "
                 "pattern is what a good fit looks like.",
    "confusion": "How often each true label (rows) was predicted as each label (columns), "
                 "on rows the model never saw.",
    "reliability": "When the model says 70%, is it right 70% of the time? Points on the "
                   "diagonal mean its probabilities can be taken at their word.",
}
#: The plots of each task, by file name, with their titles.
PLOTS = {
    "regression": {"loss": "Loss per epoch",
                   "fit": "The data and the model's prediction",
                   "residuals": "Residuals against predictions (test split)"},
    "classification": {"loss": "Loss per epoch",
                       "confusion": "Confusion matrix (test split)",
                       "reliability": "Reliability: predicted confidence against accuracy "
                                      "(test split)"},
}


def how_fitted(model: dict) -> str:
    """How the model was fitted, in words (the report and the CLI's summary say it)."""
    fit = model.get("fit")
    if fit:
        words = (f"; words' ridge penalty {fit['words_penalty']:g} by 5-fold held-out error"
                 if "words_penalty" in fit else "")
        return f"fitted exactly ({fit['method']}, on {fit['rows']:,} rows{words}; no epochs)"
    return (f"{model['epochs_run']} epochs, best at {model['best_epoch']}, batch size "
            f"{model['batch_size']}, learning rate {model['learning_rate']:g}")


def _task(metadata: dict) -> str:
    return metadata["output"].get("task", "regression")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    return plt


def write_plots(directory: Path, metadata: dict, train: pd.DataFrame, test: pd.DataFrame,
                predict: Callable[[pd.DataFrame], np.ndarray]) -> None:
    """Draw the task's plots (see PLOTS) into `directory/plots/`.

    `predict` takes a table of raw values (the feature columns) and returns the serving
    model's outputs, `[rows, k]`.
    """
    plt = _pyplot()
    plots = directory / "plots"
    plots.mkdir(exist_ok=True)  # never its parents: see pipeline.train
    titles = PLOTS[_task(metadata)]
    if metadata["history"]:  # a closed-form fit (a linear regression) has no epochs to draw
        fig, ax = plt.subplots(figsize=(6, 3.6))
        for key, label in (("loss", "training"), ("val_loss", "validation")):
            values = metadata["history"].get(key, [])
            if values:  # a model fit on every row has no validation loss to draw
                ax.plot(range(1, len(values) + 1), values, label=label)
        ax.axvline(metadata["model"]["best_epoch"], color="grey", linestyle=":",
                   label="best epoch")
        ax.set(xlabel="epoch", ylabel="loss", title=titles["loss"])
        ax.legend()
        _save(fig, plots / "loss.png")
    if _task(metadata) == "classification":
        _classification_plots(plt, plots, metadata)
    else:
        _regression_plots(plt, plots, metadata, train, test, predict)


def _regression_plots(plt, plots: Path, metadata: dict, train: pd.DataFrame,
                      test: pd.DataFrame, predict: Callable[[pd.DataFrame], np.ndarray]) -> None:
    titles, target = PLOTS["regression"], metadata["output"]["name"]
    sample = test.sample(min(len(test), MAX_POINTS), random_state=0)
    y_test = sample[target].to_numpy(dtype=np.float64)
    predicted = predict(sample)[:, 0]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    spec = metadata["inputs"][0]
    if len(metadata["inputs"]) == 1 and spec["kind"] == "numeric":
        shown = train.sample(min(len(train), MAX_POINTS), random_state=0)
        x_train = pd.to_numeric(shown[spec["name"]], errors="coerce")
        x_test = pd.to_numeric(sample[spec["name"]], errors="coerce")
        ax.scatter(x_train, shown[target], s=6, alpha=0.3, label="training rows")
        ax.scatter(x_test, y_test, s=6, alpha=0.5, label="test rows")
        log = spec["transform"] == "log"
        low, high = max(spec["min"], 1.0) if log else spec["min"], spec["max"]
        grid = np.geomspace(low, high, 200) if log else np.linspace(low, high, 200)
        curve = predict(pd.DataFrame({spec["name"]: grid}))
        ax.plot(grid, curve[:, 0], color="black", label="model")
        if curve.shape[1] == 3:
            ax.fill_between(grid, curve[:, 1], curve[:, 2], color="grey", alpha=0.2,
                            label=f"{metadata['output']['interval']:.0%} interval")
        if log:
            ax.set_xscale("log")
        ax.set(xlabel=f"{spec['name']}" + (" (log scale)" if log else ""), ylabel=target)
        ax.legend()
    else:  # several inputs, or a category: no single x axis, so predicted against actual
        ax.scatter(y_test, predicted, s=6, alpha=0.5)
        ax.plot([y_test.min(), y_test.max()], [y_test.min(), y_test.max()], color="black")
        ax.set(xlabel=f"actual {target}", ylabel=f"predicted {target}")
    ax.set_title(titles["fit"])
    _save(fig, plots / "fit.png")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.scatter(predicted, y_test - predicted, s=6, alpha=0.5)
    ax.axhline(0, color="black")
    ax.set(xlabel=f"predicted {target}", ylabel="actual - predicted", title=titles["residuals"])
    _save(fig, plots / "residuals.png")


def _classification_plots(plt, plots: Path, metadata: dict) -> None:
    """The confusion matrix and the reliability diagram, from the metrics in metadata."""
    titles, labels = PLOTS["classification"], metadata["output"]["labels"]
    matrix = np.asarray(metadata["metrics"]["confusion"])
    size = min(12.0, 3.0 + 0.45 * len(labels))
    fig, ax = plt.subplots(figsize=(size, size * 0.8))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center",
                color="white" if count > matrix.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="actual", title=titles["confusion"])
    _save(fig, plots / "confusion.png")

    bins = metadata["metrics"]["reliability"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o",
            label="model")
    ax.set(xlabel="predicted probability of the chosen label", ylabel="share correct",
           xlim=(0, 1), ylim=(0, 1.02), title=titles["reliability"])
    ax.legend()
    _save(fig, plots / "reliability.png")


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    fig.clf()
    import matplotlib.pyplot as plt

    plt.close(fig)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _metric_rows(metadata: dict) -> tuple[list[str], list[list[str]]]:
    """The metrics table: the model beside its baselines, columns by task."""
    metrics = metadata["metrics"]
    model = f"mlbridge {metadata['model']['kind']}"
    if _task(metadata) == "classification":
        named = [(model, metrics["test"]),
                 ("logistic regression (same features)",
                  metrics["baselines"]["logistic_regression"]),
                 ("class prior (training frequencies)", metrics["baselines"]["prior"])]
        header = ["model", "accuracy", "log loss", "macro F1", "ROC AUC"]
        return header, [[name, f"{m['accuracy']:.3f}", f"{m['log_loss']:.4f}",
                         f"{m['macro_f1']:.3f}",
                         f"{m['roc_auc']:.3f}" if "roc_auc" in m else "—"]
                        for name, m in named]
    named = [(model, metrics["test"]),
             ("least squares (same features)", metrics["baselines"]["least_squares"]),
             ("predict the training mean", metrics["baselines"]["mean"])]
    return ["model", "MSE", "MAE", "R²"], [[name, f"{m['mse']:.2f}", f"{m['mae']:.2f}",
                                           f"{m['r2']:.3f}"] for name, m in named]


def _interval_text(metadata: dict) -> str:
    output, test = metadata["output"], metadata["metrics"]["test"]
    if output.get("task", "regression") != "regression":
        return ""
    if output.get("half_width") is None:
        return "<p>No prediction interval (trained with <code>--interval 0</code>).</p>"
    return (f"<p>Every prediction comes with its {output['interval']:.0%} interval: the value "
            f"± {output['half_width']:.4g} (split conformal, calibrated on "
            f"{output['calibration_rows']:,} training rows the model never fit), clipped to "
            f"[{output['min']:g}, {output['max']:g}]. On the test split it covered "
            f"<b>{test['interval_coverage']:.1%}</b> of the rows (nominal "
            f"{output['interval']:.0%}); mean width {test['interval_width']:.4g}.</p>")


def _parity_section(parity: dict) -> str:
    if not parity:
        return "<p>Not checked yet: run <code>mlbridge verify</code>.</p>"

    def diff(value: float | None) -> str:
        return "—" if value is None else f"{value:.2e}"

    rows = [[c["runtime"], diff(c.get("max_abs_diff")), diff(c.get("max_rel_diff")),
             f"{c['first_ms']:,.0f} ms" if "first_ms" in c else "—",
             f"{c['ms_per_prediction']:.3g} ms" if "ms_per_prediction" in c else "—",
             c["status"] + (f": {c['error']}" if c.get("error") else "")]
            for c in parity["checks"]]
    ranking = parity.get("ranking") or []
    chosen = (f"<p>The page's <code>auto</code> runtime picks, in this kind of browser: "
              f"{html.escape(', '.join(ranking))}.</p>" if ranking else "")
    return (f"<p>Checked {html.escape(parity['checked'])} on {parity['inputs']} inputs "
            f"against {html.escape(parity['reference'])}.</p>"
            + _table(["runtime", "max abs diff", "max rel diff", "first prediction",
                      "per prediction", "result"], rows) + chosen)


_STYLE = """body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
color:#1d1d1f}table{border-collapse:collapse;margin:0.5rem 0 1.5rem}td,th{padding:0.25rem 0.75rem;
border-bottom:1px solid #ddd;text-align:right}td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee}code{background:#f2f2f2;padding:0 0.2rem}"""


def _inputs_section(metadata: dict) -> str:
    """One row per input (what it is, what training saw), then each category's errors."""
    from mlbridge.kinds import Column

    rows = [[spec["name"], Column.from_json(spec).describe()] for spec in metadata["inputs"]]
    rows += [[name, f"left out: {reason}"]
             for name, reason in metadata["data"].get("left_out", {}).items()]
    parts = [_table(["column", "how the model reads it"], rows)]
    measure = metadata["metrics"].get("by_value_measure", "MAE")
    for name, values in metadata["metrics"].get("by_value", {}).items():
        parts.append(f"<h3>{html.escape(name)}: test error by value</h3>")
        parts.append(_table(["value", "test rows", measure],
                            [[v["value"], f"{v['test_rows']:,}", f"{v['error']:.3g}"]
                             for v in values]))
    return "".join(parts)


def render_html(metadata: dict) -> str:
    """The report as one HTML page; plots are referenced as plots/*.png beside it."""
    data, model = metadata["data"], metadata["model"]
    inputs = ", ".join(i["name"] for i in metadata["inputs"])
    dropped = [[reason, f"{count:,}"] for reason, count in data["rows_dropped"].items()]
    cleaning = _table(["", "rows"], [["read", f"{data['rows_read']:,}"], *dropped,
                                     ["used", f"{data['rows_used']:,}"],
                                     ["train / test", f"{data['rows_train']:,} / "
                                                      f"{data['rows_test']:,}"]])
    figures = "".join(f'<figure><img src="plots/{name}.png" alt="{html.escape(title)}">'
                      f"<figcaption>{html.escape(CAPTIONS[name])}</figcaption></figure>"
                      for name, title in PLOTS[_task(metadata)].items()
                      if name != "loss" or metadata["history"])
    title = f"mlbridge report: {metadata['name']}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<link rel="icon" href="../../static/favicon.svg" type="image/svg+xml">
<style>{_STYLE}</style></head><body>
<p><a href="../../">← the prediction page</a></p>
<h1>{html.escape(title)}</h1>
<p>Predicts <b>{html.escape(metadata['output']['name'])}</b> from {html.escape(inputs)} with a
{html.escape(model['kind'])} model: {html.escape(how_fitted(model))}.
Trained {html.escape(metadata['created'])} on <code>{html.escape(data['source'])}</code>.</p>
<h2>Inputs</h2>
{_inputs_section(metadata)}
<h2>Test metrics</h2>
{_table(*_metric_rows(metadata))}
{_interval_text(metadata)}
<h2>Cleaning</h2>
{cleaning}
<h2>Browser parity</h2>
{_parity_section(metadata.get("parity", {}))}
<h2>Plots</h2>
{figures}
</body></html>
"""


def write_report(directory: Path, metadata: dict) -> None:
    """(Re)write report.html from metadata."""
    (directory / "report.html").write_text(render_html(metadata))
