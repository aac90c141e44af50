"""mlbridge: train a model in Python, ship it to the browser, know the browser agrees.

>>> from mlbridge import train, load
>>> bundle = train("data/artists.csv", target="popularity",
...                features=["twitter_followers"], out="models/artists")
>>> load("models/artists").predict({"twitter_followers": [1_000, 2_000_000]})
"""

from mlbridge.bundle import Bundle, load
from mlbridge.errors import DataError, ExportError, MlbridgeError, TrainError, UsageError
from mlbridge.pipeline import train

__all__ = ["Bundle", "DataError", "ExportError", "MlbridgeError", "TrainError", "UsageError",
           "load", "train"]
