"""`mlbridge site`: the page, the model, TF.js and the key lookup as files for a static host.

The site is the served page with its server taken out: the same `web/` files, the
bundle's `web/` folder, the report, the vendored TF.js, and the records written as small
static files (`lookup_files.py`) instead of an API. `config.json` tells the page which
lookup to use, so there is one page and one client for both. Every URL is relative, so
the site works at a host's root or under any sub-path. Written like a bundle: into a
staging directory, then renamed into place, so a failed build leaves the last site.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mlbridge.atomic import check_out, remove_abandoned, staging
from mlbridge.bundle import load
from mlbridge.errors import UsageError
from mlbridge.pipeline import Reporter, Silent
from mlbridge.resources import TFJS_FILE, TFJS_VERSION, WEB_DIR, tfjs_dir

#: The file that marks a directory as an mlbridge site (so it may be replaced).
CONFIG = "config.json"


def build_site(bundle_path: str | Path, out: str | Path, key: str | None = None,
               data: str | Path | None = None, reporter: Reporter | None = None) -> dict[str, Any]:
    """Write the static site for the bundle at `bundle_path` into `out`; return a summary.

    The lookup is built from `data` (default: the data the bundle was trained on) by
    `key` (default: the bundle's key); with no key at all the page offers the value form
    only.
    """
    from mlbridge.lookup_files import write_lookup
    from mlbridge.server import open_records, page_config

    progress = reporter or Silent()
    bundle = load(bundle_path)
    out = check_out(out, CONFIG, "site")
    if out.resolve() == bundle.path.resolve() or bundle.path.resolve() in out.resolve().parents:
        raise UsageError(f"--out {out} is inside the bundle",
                         hint="pass a directory outside it, for example site/")
    for line in remove_abandoned(out):
        progress.stage(line)
    name = bundle.path.name
    summary: dict[str, Any] = {"out": str(out), "lookup": None}
    with staging(out) as tmp:
        progress.stage("Copying the page, the model and TF.js")
        shutil.copytree(WEB_DIR, tmp / "static", ignore=shutil.ignore_patterns("index.html"))
        shutil.copy2(WEB_DIR / "index.html", tmp / "index.html")
        shutil.copytree(bundle.path / "web", tmp / "models" / name / "web")
        has_report = (bundle.path / "report.html").is_file()
        if has_report:
            shutil.copy2(bundle.path / "report.html", tmp / "models" / name / "report.html")
            if (bundle.path / "plots").is_dir():
                shutil.copytree(bundle.path / "plots", tmp / "models" / name / "plots")
        vendor = tmp / "vendor" / "tfjs" / TFJS_VERSION
        vendor.mkdir(parents=True)
        for file in (TFJS_FILE, "LICENSE", "README.md"):
            shutil.copy2(tfjs_dir() / file, vendor / file)
        lookup = None
        key = key or bundle.metadata.get("key")
        if key:
            progress.stage(f"Writing the lookup by {key} from "
                           f"{data or bundle.metadata['data']['source']}")
            store = open_records(bundle, data, key)
            summary["lookup"] = write_lookup(tmp / "lookup", store.rows())
            lookup = {"kind": "static", "url": "lookup/", "features": store.features}
        config = page_config(name, key, lookup, has_report)
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        summary["bytes"] = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        summary["files"] = sum(1 for p in tmp.rglob("*") if p.is_file())
    return summary
