"""Column kinds: decided on the training split, vocabularies, imputation, left-out columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import CARS, PENGUINS, WEATHER, write_csv

from mlbridge.dataset import load_dataset
from mlbridge.errors import DataError
from mlbridge.features import choose_columns, encode, graph_name
from mlbridge.kinds import MIN_COUNT, CategoricalColumn, NumericColumn


def test_real_tables_get_the_kinds_and_left_outs_a_person_expects():
    cars = choose_columns(load_dataset(CARS, "Miles_per_Gallon", None, "Name"))
    kinds = {c.name: c.kind for c in cars.columns}
    assert kinds == {"Cylinders": "numeric", "Displacement": "numeric", "Horsepower": "numeric",
                     "Weight_in_lbs": "numeric", "Acceleration": "numeric",
                     "Origin": "categorical"}
    assert cars.left_out == {"Year": "looks like a date"}
    horsepower = next(c for c in cars.columns if c.name == "Horsepower")
    assert horsepower.missing_indicator and horsepower.missing_in_training > 0

    weather = choose_columns(load_dataset(WEATHER, "temp_max", None))
    assert weather.left_out == {"date": "looks like a date"}
    assert {c.name for c in weather.columns} == {"precipitation", "temp_min", "wind", "weather"}

    penguins = choose_columns(load_dataset(PENGUINS, "body_mass_g", None))
    sex = next(c for c in penguins.columns if c.name == "sex")
    assert sex.vocabulary == ["male", "female"] or sex.vocabulary == ["female", "male"]
    assert sex.missing_in_training > 0  # "NA" is missing, not a category


def test_the_key_and_an_id_like_text_column_are_left_out(tmp_path):
    rows = [f"id{i},name {i},{['a', 'b'][i % 2]},{i % 7},{i}" for i in range(40)]
    path = write_csv(tmp_path / "t.csv", "id,name,group,score,y\n" + "\n".join(rows) + "\n")
    choice = choose_columns(load_dataset(path, "y", None, "id"))
    assert [c.name for c in choice.columns] == ["group", "score"]
    # "name 0", "name 1", ...: text, but its one repeated word is in every row.
    assert "no word in at least 2 rows" in choice.left_out["name"]
    ids = write_csv(tmp_path / "ids.csv",
                    "code,x,y\n" + "".join(f"c{i},{i % 5},{i}\n" for i in range(40)))
    assert "like an id" in choose_columns(load_dataset(ids, "y", None)).left_out["code"]


def test_forced_categorical_and_constant_and_empty_columns(tmp_path):
    rows = [f"{i % 3},same,,{i}" for i in range(30)]
    path = write_csv(tmp_path / "t.csv", "code,const,empty,y\n" + "\n".join(rows) + "\n")
    choice = choose_columns(load_dataset(path, "y", None), categorical=["code"])
    assert [(c.name, c.kind) for c in choice.columns] == [("code", "categorical")]
    assert choice.left_out == {"const": "one value only ('same')", "empty": "empty in every row"}
    for name, message in (("const", "one value only .* adds nothing"),
                          ("empty", "empty in every row")):
        with pytest.raises(DataError, match=message):
            choose_columns(load_dataset(path, "y", ["code", name]))


def test_nothing_left_to_learn_from_is_an_error(tmp_path):
    path = write_csv(tmp_path / "t.csv", "k,c,y\n" + "".join(f"k{i},x,{i}\n" for i in range(20)))
    with pytest.raises(DataError, match=r"no usable feature column .* \(c: one value only"):
        choose_columns(load_dataset(path, "y", None, "k"))


def test_vocabulary_keeps_frequent_values_most_frequent_first():
    values = pd.Series(["pop"] * 9 + ["rock"] * 6 + ["jazz"] * 6 + ["polka"] * (MIN_COUNT - 1)
                       + [""] * 3)
    column = CategoricalColumn.fit("genre", "genre", values)
    assert column.vocabulary == ["pop", "jazz", "rock"]  # ties in alphabetical order
    assert (column.folded_values, column.folded_rows, column.missing_in_training) == (1, 4, 3)
    capped = CategoricalColumn.fit("genre", "genre", values, max_vocabulary=1)
    assert capped.vocabulary == ["pop"] and capped.folded_values == 3
    slots = column.slots(np.array(["jazz", "", "polka", "never seen"], dtype=object))
    assert slots.tolist() == [3, 1, 0, 0]  # jazz, missing, other, other
    assert column.encode(np.array(["pop"], dtype=object)).tolist() == [[0, 0, 1, 0, 0]]


def test_numeric_column_imputes_flags_and_logs():
    column = NumericColumn.fit("f", "f", pd.Series(["1", "10", "", "1000", "100000"]), "log")
    assert column.fill == pytest.approx(505.0) and column.missing_indicator
    encoded = column.encode(np.array([np.nan, 505.0, -3.0]))
    assert encoded[0, 0] == pytest.approx(encoded[1, 0]) and encoded[:, 1].tolist() == [1, 0, 0]
    assert encoded[2, 0] == pytest.approx((0 - column.mean) / column.std)  # clamped at 0
    with pytest.raises(DataError, match="0 or negative") as raised:
        NumericColumn.fit("f", "f", pd.Series(["-1", "-2", "-3"]), "log")
    assert "use --transform none" in raised.value.hint


def test_graph_names_are_safe_lowercase_and_unique():
    taken: set[str] = set()
    assert graph_name("Bill length (mm)", taken) == "bill_length__mm_"
    assert graph_name("bill_length__mm_", taken) == "bill_length__mm__2"
    assert graph_name("2nd", taken) == "f_2nd"
    assert graph_name("unknown", taken) == "f_unknown"  # unknown_N are the converter's
    assert graph_name("Unknown_1", taken) == "f_unknown_1"


def test_encode_puts_columns_side_by_side():
    choice = choose_columns(load_dataset(PENGUINS, "body_mass_g", None))
    data = load_dataset(PENGUINS, "body_mass_g", None)
    x = encode(choice.columns, data.test)
    assert x.shape == (len(data.test), sum(c.width for c in choice.columns))
    assert np.isfinite(x).all()
