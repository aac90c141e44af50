"""Every bad input gets exit code 2, one or two plain lines, and no traceback.

These run the real `mlbridge` script. They all fail before TensorFlow is imported, which
is also why each takes about a second.
"""

from __future__ import annotations

import random
import re

import pytest
from conftest import ARTISTS, CARS, run_cli, tree_digest, write_csv

FEW_ROWS = "handle,followers,pop\n" + "".join(f"a{i},{i + 1},{i}\n" for i in range(5))
BAD_NUMBERS = "handle,followers,pop\n" + "".join(f"a{i},{i},many\n" for i in range(20))
NEGATIVE = "handle,followers,pop\n" + "".join(f"a{i},-{i + 1},{i}\n" for i in range(30))
GAPS = "handle,followers,genre,empty,pop\n" + "".join(f"a{i},{i},pop,,{i}\n" for i in range(30))


def cases(tmp_path):
    rng = random.Random(1)
    (tmp_path / "garbage.csv").write_bytes(bytes(rng.randrange(1, 256) for _ in range(4096)))
    (tmp_path / "a_file").write_text("not a directory\n")
    write_csv(tmp_path / "empty.csv", "")
    write_csv(tmp_path / "header.csv", "handle,followers,pop\n")
    write_csv(tmp_path / "few.csv", FEW_ROWS)
    write_csv(tmp_path / "bad.csv", BAD_NUMBERS)
    write_csv(tmp_path / "gaps.csv", GAPS)
    write_csv(tmp_path / "negative.csv", NEGATIVE)
    (tmp_path / "theirs").mkdir()
    write_csv(tmp_path / "theirs" / "notes.txt", "a user's own file\n")
    gaps = str(tmp_path / "gaps.csv")
    (tmp_path / "folder").mkdir()
    data = str(ARTISTS)
    return {
        "missing file": (["train", str(tmp_path / "nope.csv"), "--target", "pop"],
                         "file not found"),
        "unreadable url": (["train", "http://127.0.0.1:9/artists.csv", "--target", "pop",
                            "--features", "f"], "could not download"),
        "empty file": (["train", str(tmp_path / "empty.csv")], "is empty"),
        "header only": (["train", str(tmp_path / "header.csv")], "no data rows"),
        "missing target": (["train", data, "--target", "followers", "--features",
                            "twitter_followers"],
                           "column 'followers' not found .* columns are: twitter_followers, "
                           "popularity, handle"),
        "missing feature": (["train", data, "--target", "popularity", "--features", "likes"],
                            "column 'likes' not found"),
        "no target given": (["train", data], "no target given; the columns of .* are"),
        "no usable rows": (["train", str(tmp_path / "bad.csv"), "--target", "pop",
                            "--features", "followers", "--task", "regression"],
                           "no usable rows .* 20 pop not a number.* hint: check that the "
                           "--target column holds numbers"),
        "target with one class": (["train", str(tmp_path / "bad.csv"), "--target", "pop",
                                   "--features", "followers"],
                                  "target 'pop' has one class only .* hint: pick a --target"),
        "target like an id": (["train", str(CARS), "--target", "Name"],
                              "target 'Name' has 3.. different labels: that looks like an id"),
        "unknown task": (["train", str(CARS), "--target", "Origin", "--task", "labels"],
                         "unknown task 'labels'"),
        "interval of 1": (["train", str(CARS), "--target", "Horsepower", "--interval", "1"],
                          "--interval 1 is not a coverage"),
        "categorical not a feature": (["train", gaps, "--target", "pop", "--features",
                                       "followers", "--categorical", "genre"],
                                      "--categorical 'genre' is not a feature"),
        "feature entirely missing": (["train", gaps, "--target", "pop", "--features",
                                      "followers,empty"],
                                     "feature 'empty': it is empty in every row .* hint: "
                                     "leave 'empty' out of --features"),
        "category with one value": (["train", gaps, "--target", "pop", "--features",
                                     "followers,genre"],
                                    "feature 'genre': it has one value only .* adds nothing"),
        "nothing but key and target": (["train", gaps, "--target", "pop", "--key", "followers"],
                                       "no usable feature column is left .* genre: one value "
                                       "only"),
        "too few rows": (["train", str(tmp_path / "few.csv"), "--target", "pop",
                          "--features", "followers"], "only 5 usable rows"),
        "directory": (["train", str(tmp_path / "folder"), "--target", "pop"], "is a directory"),
        "binary": (["train", str(tmp_path / "garbage.csv"), "--target", "pop"],
                   "not a text file"),
        "out is a file": (["train", "--out", str(tmp_path / "a_file")], "is an existing file"),
        "out holds other files": (["train", "--out", str(tmp_path / "theirs")],
                                  "is a non-empty directory that is not an mlbridge bundle"),
        "log of negative numbers": (["train", str(tmp_path / "negative.csv"), "--target", "pop",
                                     "--features", "followers", "--transform", "log"],
                                    "every value of 'followers' is 0 or negative.* hint: use "
                                    "--transform none, or fix the sign of 'followers'"),
        "unknown model": (["train", "--model", "forest"],
                          "unknown model 'forest' hint: use --model linear or dnn"),
        "unknown bundle": (["predict", str(tmp_path / "none"), "twitter_followers=1"],
                           "does not exist"),
        # Usage errors are said like the rest: "error:" and a hint, no box.
        "missing argument": (["predict"], "^error: missing argument 'BUNDLE' hint: see "
                             "mlbridge predict --help$"),
        "option not a number": (["train", "--epochs", "abc"],
                                "^error: invalid value for '--epochs'.* hint: see mlbridge "
                                "train --help$"),
        "unknown option": (["convert", "m.keras", "--bogus"], "^error: no such option: --bogus"),
    }


NAMES = ["missing file", "unreadable url", "empty file", "header only", "missing target",
         "missing feature", "no target given", "no usable rows", "too few rows", "directory",
         "binary", "out is a file", "unknown model", "unknown bundle",
         "categorical not a feature", "feature entirely missing", "category with one value",
         "nothing but key and target", "target with one class", "target like an id",
         "unknown task", "interval of 1", "out holds other files", "log of negative numbers",
         "missing argument", "option not a number", "unknown option"]


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_exits_2_with_a_clear_message(tmp_path, name):
    args, expected = cases(tmp_path)[name]
    kept = tmp_path / "kept"  # an existing bundle that a failed run must leave alone
    kept.mkdir()
    write_csv(kept / "metadata.json", '{"precious": true}\n')
    if args[0] == "train" and "--out" not in args:
        args = [*args, "--out", str(kept)]
    before = tree_digest(tmp_path)
    result = run_cli(*args)
    assert result.code == 2, result
    assert "Traceback" not in result.stderr + result.stdout
    assert re.search(expected, " ".join(result.stderr.split())), result.stderr
    assert tree_digest(tmp_path) == before, "a failed run changed files"


def test_debug_shows_the_traceback(tmp_path):
    result = run_cli("train", str(tmp_path / "nope.csv"), "--target", "p", "--debug")
    assert result.code != 0 and "Traceback" in result.stderr


def test_help_lists_commands_and_examples():
    top = run_cli("--help")
    assert top.code == 0 and "train" in top.stdout and "predict" in top.stdout
    sub = run_cli("train", "--help")
    assert sub.code == 0 and "--target" in sub.stdout and "Examples" in sub.stdout
