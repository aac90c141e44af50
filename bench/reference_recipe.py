"""The reference "Python backend" recipe, step for step, as the article runs it.

Read the CSV with pandas; keep twitter_followers and popularity; 80% sample
(random_state=0) for training and the rest for test; a Normalization(axis=None) adapted
on the raw training followers; Sequential([norm, Dense(1)]); Adam(0.1); mean squared
error; fit(epochs=2, validation_split=0.2); evaluate; model.export("saved_model").
The TF.js conversion is a separate process (tensorflowjs_converter), run by bench/run.py.

--variant log2 is the article's later script: log2 of the followers, popularity / 100.
Prints one JSON line: the test metrics in popularity units (0-100) and the timings.
"""

from __future__ import annotations

import argparse
import json
import time

started = time.perf_counter()
import numpy as np  # noqa: E402  (imports are part of what the recipe costs)
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402

imported = time.perf_counter()
parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data")
parser.add_argument("out")
parser.add_argument("--variant", choices=["raw", "log2"], default="raw")
args = parser.parse_args()

df = pd.read_csv(args.data)[["twitter_followers", "popularity"]]
scale = 1.0
if args.variant == "log2":
    df["twitter_followers"] = np.log2(df["twitter_followers"])
    df["popularity"] = df["popularity"] / 100
    scale = 100.0
train = df.sample(frac=0.8, random_state=0)
test = df.drop(train.index)
x_train, y_train = train["twitter_followers"].to_numpy(), train["popularity"].to_numpy()
x_test, y_test = test["twitter_followers"].to_numpy(), test["popularity"].to_numpy()

normalizer = tf.keras.layers.Normalization(axis=None)
normalizer.adapt(x_train)
model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), normalizer, tf.keras.layers.Dense(1)])
model.compile(optimizer=tf.keras.optimizers.Adam(learning_rate=0.1), loss="mean_squared_error")
model.fit(x_train, y_train, epochs=2, validation_split=0.2, verbose=0)
test_loss = model.evaluate(x_test, y_test, verbose=0)
model.export(f"{args.out}/saved_model")
finished = time.perf_counter()

predicted = model.predict(x_test, verbose=0).reshape(-1) * scale
actual = y_test * scale
errors = actual - predicted
print(json.dumps({
    "variant": args.variant, "test_loss": float(test_loss),
    "mse": float(np.mean(errors**2)), "mae": float(np.mean(np.abs(errors))),
    "r2": float(1 - np.sum(errors**2) / np.sum((actual - actual.mean()) ** 2)),
    "import_seconds": imported - started, "work_seconds": finished - imported,
    "test_index": test.index.tolist(),
}))
