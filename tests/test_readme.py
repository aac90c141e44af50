"""The README's "Use it in your own front end" snippets, run as a reader would run them.

Each code block after a `<!-- snippet: node -->` or `<!-- snippet: chromium -->` line is
taken from README.md as it stands: Node.js runs the first beside a copy of the bundle's
`web/`; Chromium runs the others as module scripts in a page of a built static site.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import ROOT, static_server

SNIPPET = re.compile(r"<!-- snippet: (\w+) -->\n```js\n(.*?)```", re.DOTALL)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]?\d+)?")
FOLLOWERS = 95307659


def snippets(kind: str) -> list[str]:
    found = [code for where, code in SNIPPET.findall((ROOT / "README.md").read_text())
             if where == kind]
    assert found, f"no {kind} snippet in README.md"
    return found


def numbers(text: str) -> list[float]:
    return [float(n) for n in NUMBER.findall(text)]


@pytest.fixture(scope="module")
def expected(artists_bundle) -> list[float]:
    return [float(v) for v in artists_bundle.predict_interval(
        {"twitter_followers": [FOLLOWERS]})[0]]


def test_node_snippet_calls_predict_mjs_from_a_copied_web_folder(artists_bundle, expected,
                                                                  tmp_path):
    (code,) = snippets("node")
    shutil.copytree(artists_bundle.path / "web", tmp_path / "web")
    (tmp_path / "snippet.mjs").write_text(code)
    done = subprocess.run(["node", "snippet.mjs"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    value, *interval = numbers(done.stdout)  # [ 84.5 ] then [ { value, lower, upper } ]
    assert value == pytest.approx(expected[0], abs=1e-3)
    assert interval == pytest.approx(expected, abs=1e-3)


def test_browser_snippets_run_in_a_page_of_the_static_site(artists_bundle, expected, browser,
                                                            tmp_path):
    from mlbridge.site import build_site

    build_site(artists_bundle.path, tmp_path / "site")
    codes = snippets("chromium")
    for index, code in enumerate(codes):
        (tmp_path / "site" / f"snippet{index}.html").write_text(
            f'<!doctype html><script type="module">\n{code}\n</script>\n')
    with static_server(tmp_path / "site") as url:
        answers = []
        for index in range(len(codes)):
            page = browser.new_page()
            logged: list[str] = []
            errors: list[str] = []
            page.on("console", lambda message, out=logged: message.type == "log"
                    and out.append(message.text))
            page.on("pageerror", lambda exc, out=errors: out.append(str(exc)))
            page.goto(f"{url}snippet{index}.html")
            for _ in range(300):
                if logged or errors:
                    break
                page.wait_for_timeout(100)
            page.close()
            assert not errors and logged, (index, errors)
            answers.append(numbers(logged[0]))
    tfjs, standalone = answers
    assert tfjs == pytest.approx(expected, abs=1e-3)
    assert standalone == pytest.approx(expected[:1], abs=1e-3)


def quoted(pattern: str) -> list[float]:
    """The numbers the README quotes where `pattern` (a regex with groups) matches."""
    found = re.search(pattern, (ROOT / "README.md").read_text())
    assert found, f"the README no longer says {pattern}"
    return [float(g.replace(",", "")) for g in found.groups()]


def test_the_readme_numbers_come_from_a_fresh_run(artists_bundle, species_bundle):
    """Figures the README quotes of the bundled models, against the models trained here."""
    two = artists_bundle.predict({"twitter_followers": [1000, 2e6]})
    assert quoted(r"predict\(\{ twitter_followers: \[1000, 2e6\] \}\);\s*// → "
                  r"\[([\d.]+), ([\d.]+)\]") == pytest.approx(two, abs=0.006)
    ((value, lower, upper),) = artists_bundle.predict_interval({"twitter_followers": [1000]})
    assert quoted(r"// → \[\{ value: ([\d.]+), lower: ([\d.]+), upper: ([\d.]+) \}\]") == \
        pytest.approx([value, lower, upper], abs=0.006)
    (probabilities,) = species_bundle.predict({"island": "Dream", "bill_length_mm": 49,
                                               "sex": "female"})
    best = int(probabilities.argmax())
    assert species_bundle.labels[best] == "Chinstrap"
    assert quoted(r"# → Chinstrap (\d+)%") == [round(100 * probabilities[best])]


def test_the_readme_benchmark_figures_are_those_of_the_benchmark_file():
    """Every figure in the README's benchmark table is in docs/benchmarks.md, which
    `make bench` writes: the README quotes a run, it does not remember one."""
    text = (ROOT / "README.md").read_text()
    bench = (ROOT / "docs" / "benchmarks.md").read_text().replace(",", "")
    rows = text[text.index("## Benchmarks"):text.index("## Development")]
    rows += text[text.index("| the recipe's break |"):text.index("## Using it")]
    figures = re.findall(r"(?<![\w.§])(\d[\d,]*\.\d+|\d{1,3}(?:,\d{3})+)(?![\w.])", rows)
    assert len(figures) > 20
    missing = [f for f in figures if f.replace(",", "") not in bench]
    assert missing == [], f"README figures not in docs/benchmarks.md: {missing}"
