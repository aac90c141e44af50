"""Start Debian's Chromium headless through Playwright, with the flags this machine needs.

Playwright's own browser download does not work offline, so Chromium comes from the
system (`apt-get install chromium`) and is passed as `executable_path`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mlbridge.errors import VerifyError

if TYPE_CHECKING:
    from playwright.sync_api import Browser

DEFAULT_BROWSER = "/usr/bin/chromium"
#: Headless, no sandbox (we run as root in CI), and no calls home that would hang offline.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def find_browser(path: str | None = None) -> str:
    """The Chromium executable to use, or a VerifyError saying how to install one."""
    candidate = path or DEFAULT_BROWSER
    found = candidate if Path(candidate).is_file() else shutil.which(candidate)
    if not found:
        raise VerifyError(f"no browser at {candidate}",
                          hint="install Debian's Chromium (apt-get install -y chromium) "
                          "or pass --browser PATH")
    return found


@contextmanager
def chromium(path: str | None = None) -> Iterator[Browser]:
    """A headless Chromium for the duration of the block."""
    from playwright.sync_api import Error, sync_playwright

    executable = find_browser(path)
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        except Error as exc:
            raise VerifyError(f"could not start {executable}: {str(exc).splitlines()[0]}",
                              hint="check that it runs: chromium --headless --version") from exc
        try:
            yield browser
        finally:
            browser.close()
