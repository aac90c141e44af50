"""The data stage: reading, delimiter detection, cleaning by reason, and the split."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from conftest import ARTISTS, write_csv

from mlbridge.cleaning import clean
from mlbridge.dataset import load_dataset
from mlbridge.errors import DataError, UsageError
from mlbridge.reading import detect_sep
from mlbridge.sampling import split
from mlbridge.tables import read_table


def test_bundled_data_reads_whole_and_clean():
    data = load_dataset(ARTISTS, "popularity", ["twitter_followers"], "handle")
    assert data.rows_read == 1791
    assert data.rows_used == 1791 and data.dropped == {}
    assert (len(data.train), len(data.test)) == (1418, 373)  # the hash split: about 80/20
    assert data.source.sha256 == (
        "cd755988f0bd6eefd74cec3266c8a1a58ec271e06ab514ea8a2f1c5c676a69a1")


@pytest.mark.parametrize("sep", [",", "\t", ";"])
def test_delimiter_is_detected(tmp_path, sep):
    rows = [["name", "followers", "score"], ["a;b" if sep != ";" else "ab", "10", "1.5"],
            ["c", "20", "2"]]
    path = write_csv(tmp_path / "t.csv", "\n".join(sep.join(r) for r in rows) + "\n")
    frame, source = read_table(path)
    assert source.sep == sep
    assert list(frame.columns) == ["name", "followers", "score"]


def test_detect_sep_prefers_consistent_delimiter():
    assert detect_sep("a;b;c\n1,5;2;3\n4;5;6\n") == ";"


def test_cleaning_drops_only_for_the_target_and_counts_every_drop(tmp_path):
    path = write_csv(tmp_path / "t.csv", "handle,followers,pop\n"
                     "a,10,50\n"    # kept
                     "b,,50\n"      # missing followers: kept, the model imputes it
                     "c,NA,50\n"    # missing followers (NA is a missing token): kept
                     "d,lots,50\n"  # not a number: kept as text; kinds are decided later
                     "e,10,null\n"  # missing pop
                     "f,10,?\n"     # missing pop
                     "h,10,many\n"  # pop not a number
                     "g,10,120\n"   # outside declared range
                     "a,10,50\n"    # exact duplicate of the first row
                     "a,11,20\n"    # same key, different record: kept
                     "null,5,40\n")  # a key that looks like a missing token stays a key
    frame, _ = read_table(path)
    cleaned, dropped, hints = clean(frame, "pop", ["followers"], "handle", target_range=(0, 100))
    assert dropped == {"missing pop": 2, "pop not a number": 1, "pop outside [0, 100]": 1,
                       "exact duplicate row": 1}
    assert list(cleaned["handle"]) == ["a", "b", "c", "d", "a", "null"]
    assert cleaned["followers"].tolist() == ["10", "", "", "lots", "11", "5"]
    assert "--target-range" in hints["pop outside [0, 100]"]


def test_every_header_error_comes_before_the_file_is_parsed(tmp_path, monkeypatch):
    import mlbridge.tables as tables

    path = write_csv(tmp_path / "t.csv", "a,b,c\n" + "1,2,3\n" * 50)

    def never(*args, **kwargs):
        raise AssertionError("the whole file was parsed")

    monkeypatch.setattr(tables, "parse_table", never)
    monkeypatch.setattr(tables.Table, "read", never)
    for target, features, key, categorical, message in [
            (None, None, None, None, "no target given; the columns of .* are: a, b, c"),
            ("z", None, None, None, "column 'z' not found"),
            ("a", ["q"], None, None, "column 'q' not found"),
            ("a", None, "k", None, "column 'k' not found"),
            ("a", ["b"], None, ["c"], "--categorical 'c' is not a feature")]:
        with pytest.raises((DataError, UsageError), match=message):
            load_dataset(path, target, features, key, categorical=categorical)


def test_split_is_seeded_and_disjoint():
    data = load_dataset(ARTISTS, "popularity", ["twitter_followers"], "handle", seed=7)
    again = load_dataset(ARTISTS, "popularity", ["twitter_followers"], "handle", seed=7)
    other = load_dataset(ARTISTS, "popularity", ["twitter_followers"], "handle", seed=8)
    assert data.test.index.equals(again.test.index)
    assert not data.test.index.equals(other.test.index)
    assert not set(data.train.index) & set(data.test.index)


def test_split_of_small_frame_keeps_a_test_row():
    import pandas as pd

    for rows in (2, 3, 10):
        train, test = split(pd.DataFrame({"x": np.arange(rows)}), seed=0)
        assert len(train) >= 1 and len(test) >= 1 and len(train) + len(test) == rows


def test_url_is_read_over_real_http(tmp_path):
    write_csv(tmp_path / "remote.csv", ARTISTS.read_text())
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/remote.csv"
        data = load_dataset(url, "popularity", ["twitter_followers"], "handle")
        assert data.rows_used == 1791 and data.source.location == url
        with pytest.raises(DataError, match="could not download"):
            load_dataset(url.replace("remote", "absent"), "popularity", ["twitter_followers"])
    finally:
        server.shutdown()


def test_no_features_means_every_column_but_target_and_key():
    data = load_dataset(ARTISTS, "popularity", None, "handle")
    assert data.features == ["twitter_followers"] and not data.features_given


def test_missing_target_lists_the_columns():
    with pytest.raises(UsageError, match=r"columns of .* are: twitter_followers, popularity"):
        load_dataset(ARTISTS, None, ["twitter_followers"])


def test_target_cannot_be_a_feature():
    with pytest.raises(UsageError, match="both the target and a feature"):
        load_dataset(ARTISTS, "popularity", ["popularity"])


def test_binary_detection(tmp_path):
    (tmp_path / "ctrl.csv").write_bytes(b"\x11" * 500)
    with pytest.raises(DataError, match="not a text file"):
        read_table(tmp_path / "ctrl.csv")
    (tmp_path / "latin1.csv").write_bytes("name,score\ncaf\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        read_table(tmp_path / "latin1.csv")
