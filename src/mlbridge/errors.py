"""One exception type per stage, each carrying a hint a person can act on.

The CLI catches `MlbridgeError` once, prints the message and the hint, and exits
with `exit_code`: 2 when the input is at fault, 1 when mlbridge itself failed.
"""

from __future__ import annotations


class MlbridgeError(Exception):
    """Base class: a message saying what is wrong, and a hint saying what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class DataError(MlbridgeError):
    """The input table (or a value given for prediction) cannot be used as asked."""

    exit_code = 2


class UsageError(MlbridgeError):
    """Options that contradict each other or name something that does not exist."""

    exit_code = 2


class TrainError(MlbridgeError):
    """Training failed (for example the loss became NaN)."""


class ExportError(MlbridgeError):
    """Writing the SavedModel or converting it to TF.js failed."""


class VerifyError(MlbridgeError):
    """The parity check could not run (no browser, no server); not a parity failure.

    Its own exit code (3), so a script can tell "the browser disagrees" (1) apart from
    "nothing was checked".
    """

    exit_code = 3


class UnsupportedModel(MlbridgeError):
    """A model given to `convert` cannot be read, or cannot run in TF.js even after rewrites."""

    exit_code = 2
