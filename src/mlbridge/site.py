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
from mlbridge.resources import NOTICES, WEB_DIR

#: The file that marks a directory as an mlbridge site (so it may be replaced).
CONFIG = "config.json"


def site_runtimes(metadata: dict, asked: str | list[str] = "auto") -> list[str]:
    """The runtimes a site carries. "auto": the one the page's auto would pick (verify's
    ranking, else predict.mjs) and TF.js cpu, TF.js's backend with a kernel for every op,
    as the switch's fallback; so a table site that answers with predict.mjs carries no
    wasm at all. "all": every runtime the bundle has. Or a list of names."""
    from mlbridge.server import page_runtimes

    has = page_runtimes(metadata)
    if asked == "all":
        return has
    if asked == "auto":
        ranking = (metadata.get("runtimes") or {}).get("ranking") or []
        first = next((name for name in [*ranking, "standalone", "tfjs-cpu"] if name in has), None)
        return [name for name in has if name in (first, "tfjs-cpu")]
    unknown = [name for name in asked if name not in has]
    if unknown:
        raise UsageError(f"--runtimes {','.join(unknown)}: not a runtime this bundle has",
                         hint=f"use auto, all, or some of: {', '.join(has)}")
    return [name for name in has if name in asked]


def build_site(bundle_path: str | Path, out: str | Path, key: str | None = None,
               data: str | Path | None = None, reporter: Reporter | None = None,
               runtimes: str | list[str] = "auto") -> dict[str, Any]:
    """Write the static site for the bundle at `bundle_path` into `out`; return a summary.

    The lookup is built from `data` (default: the data the bundle was trained on) by
    `key` (default: the bundle's key); with no key at all the page offers the value form
    only. `runtimes` (see `site_runtimes`) decides which runtimes the site carries.
    """
    from mlbridge.lookup_files import write_lookup
    from mlbridge.runtimes import BY_NAME
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
    carried = site_runtimes(bundle.metadata, runtimes)
    summary: dict[str, Any] = {"out": str(out), "lookup": None, "runtimes": carried}
    with staging(out) as tmp:
        progress.stage(f"Copying the page, the model and its runtimes ({', '.join(carried)})")
        shutil.copytree(WEB_DIR, tmp / "static",
                        ignore=shutil.ignore_patterns("index.html", "verify.html"))
        shutil.copy2(WEB_DIR / "index.html", tmp / "index.html")
        web = tmp / "models" / name / "web"
        shutil.copytree(bundle.path / "web", web)
        carried_files = {f for r in carried for f in BY_NAME[r].model_files(bundle.metadata)}
        for runtime in BY_NAME.values():  # a runtime the site does not carry: not its model
            for file in set(runtime.model_files(bundle.metadata)) - carried_files:
                (web / file.removeprefix("web/")).unlink(missing_ok=True)
        has_report = (bundle.path / "report.html").is_file()
        if has_report:
            shutil.copy2(bundle.path / "report.html", tmp / "models" / name / "report.html")
            if (bundle.path / "plots").is_dir():
                shutil.copytree(bundle.path / "plots", tmp / "models" / name / "plots")
        for vendored, file in {pair for r in carried for pair in BY_NAME[r].vendored()}:
            for copied in (file, *NOTICES):
                target = tmp / vendored.url / copied
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(vendored.file(copied), target)
        lookup = None
        key = key or bundle.metadata.get("key")
        if key:
            progress.stage(f"Writing the lookup by {key} from "
                           f"{data or bundle.metadata['data']['source']}")
            store = open_records(bundle, data, key)
            summary["lookup"] = write_lookup(tmp / "lookup", store.rows())
            lookup = {"kind": "static", "url": "lookup/", "features": store.features}
        config = page_config(name, key, lookup, has_report, carried)
        (tmp / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
        summary["bytes"] = sum(p.stat().st_size for p in tmp.rglob("*") if p.is_file())
        summary["files"] = sum(1 for p in tmp.rglob("*") if p.is_file())
    return summary
