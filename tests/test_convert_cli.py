"""`mlbridge convert` and `verify` as a user runs them, and the slim install behind them."""

from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, run_cli

#: What the TF.js converter's package requires but the SavedModel route never uses.
LEFT_OUT = ("jax", "jaxlib", "flax", "tensorflow_decision_forests", "ydf", "tensorflow_hub")


def test_cli_converts_and_verifies_the_recipes_own_saved_model(tmp_path):
    import convert_models as cm

    saved = cm.recipe_saved_model(tmp_path / "saved_model")
    out = tmp_path / "web_model"
    converted = run_cli("convert", str(saved), "--out", str(out))
    assert converted.code == 0, converted.stderr
    assert "output_0" in converted.stdout and f"mlbridge verify {out}" in converted.stdout
    assert (out / "web" / "model.json").is_file() and (out / "metadata.json").is_file()
    assert (out / "web" / "model.tflite").is_file()  # beside it, for LiteRT.js
    checked = run_cli("verify", str(out))
    assert checked.code == 0, checked.stdout + checked.stderr
    rows = {line.split("│")[1].strip(): line for line in checked.stdout.splitlines()
            if line.startswith("│")}
    for name in ("tfjs-cpu", "tfjs-wasm", "tfjs-webgl", "litert-wasm"):
        assert "pass" in rows[name], rows[name]
    assert "unavailable" in rows["tfjs-webgpu"] and "auto picks" in checked.stdout
    quiet = run_cli("verify", str(out), "--runtime", "tfjs-cpu", "--quiet")
    assert quiet.code == 0 and quiet.stdout.strip() == "pass" and quiet.stderr == ""


def test_cli_names_ops_without_a_rewrite_in_one_line_and_writes_nothing(tmp_path):
    import convert_models as cm

    source = cm.save(cm.unsupported(), tmp_path / "unsupported.keras")
    out = tmp_path / "web_model"
    result = run_cli("convert", str(source), "--import", str(ROOT / "tests" / "convert_models.py"),
                     "--out", str(out))
    assert result.code == 2 and "Traceback" not in result.stderr
    assert "MatrixDeterminant (in block_det)" in result.stderr and "hint:" in result.stderr
    assert not out.exists()


def test_verify_exit_code_says_it_could_not_run(artists_bundle):
    result = run_cli("verify", str(artists_bundle.path), "--browser", "/nowhere/chromium")
    assert result.code == 3 and "no browser at /nowhere/chromium" in result.stderr


def test_the_install_holds_none_of_the_converters_unused_dependencies():
    script = ("import importlib.util, sys\n"
              f"print([n for n in {LEFT_OUT!r} if importlib.util.find_spec(n)])\n"
              "from mlbridge.export.converter import saved_model_converter\n"
              "saved_model_converter()\n"
              "print(sorted(n for n in ('jax', 'flax', 'tf_keras') if n in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=300)
    installed, imported = done.stdout.strip().splitlines()[-2:]
    assert installed == "[]" and imported == "[]"
