"""Writing directories and files so that a failure never destroys the last good one.

A bundle, a converted model and a site are each built in a staging directory beside
their target and swapped in with two renames at the end; JSON files are written beside
and renamed over. A run that is killed (SIGKILL, power loss) cannot clean up after
itself, so its staging directory stays behind: every name made here carries the host and
pid of the run that made it, and the next run writing the same target removes those
whose process is gone (`remove_abandoned`), never one that is still running.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlbridge.errors import UsageError


def run_tag(pid: int | None = None) -> str:
    """`host-pid` of this run (or of `pid` on this host), as staging names carry it."""
    host = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname()) or "host"
    return f"{host}-{os.getpid() if pid is None else pid}"


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def remove_abandoned(out: Path) -> list[str]:
    """Remove staging directories of `out` left by runs on this host that are gone.

    If such a run was killed between the swap's two renames, `out` is missing and the
    last good version is in its `.old` directory: that is put back instead. Returns one
    line per thing done, for the caller to say.
    """
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(?P<host>\w+)-(?P<pid>\d+)"
                         r"\.(?:\w+\.partial|old)$")
    host = run_tag().rsplit("-", 1)[0]
    done = []
    if not out.parent.is_dir():
        return done
    for path in sorted(out.parent.iterdir()):
        found = pattern.match(path.name)
        if (found is None or not path.is_dir() or found["host"] != host
                or _is_running(int(found["pid"]))):
            continue
        if path.name.endswith(".old") and not out.exists():
            path.rename(out)
            done.append(f"restored {out} from {path.name}, left by a run killed mid-swap")
        else:
            shutil.rmtree(path, ignore_errors=True)
            done.append(f"removed {path.name}, left behind by a run that was killed")
    return done


def check_out(out: str | Path, marker: str, what: str) -> Path:
    """Refuse an `--out` that would destroy something not an mlbridge `what` (no `marker`).

    Called before any work so the user hears about it in a second, not a minute.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is an existing file",
                         hint="pass a directory path for the output")
    if out.is_dir() and any(out.iterdir()) and not (out / marker).is_file():
        raise UsageError(f"--out {out} is a non-empty directory that is not an mlbridge {what}",
                         hint=f"pass a new or empty directory, or an existing {what} to "
                              "replace")
    return out


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """Yield a temporary directory beside `out`; on success move it to `out` atomically.

    Beside, not in /tmp, so the final rename stays on one filesystem. On any failure
    (including Ctrl-C) the temporary directory is removed and `out` is untouched.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.{run_tag()}.", suffix=".partial",
                                dir=out.parent))
    try:
        yield tmp
        replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_dir(new: Path, out: Path) -> None:
    """Put directory `new` at `out`, replacing an existing `out` with two renames."""
    if not out.exists():
        new.rename(out)
        return
    old = out.with_name(f".{out.name}.{run_tag()}.old")
    out.rename(old)
    try:
        new.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_json(path: Path, data: dict) -> None:
    """Write JSON atomically: to a temporary file beside `path`, then rename over it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
