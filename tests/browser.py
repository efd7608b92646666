"""Open a page in a real browser, as a person would: Debian's Chromium driven by Playwright (TOOLCHAIN.md; Playwright's
own browser download is unreachable from this machine, so it launches the system's /usr/bin/chromium).

`make test` installs Chromium first (toolchain/chromium.sh). PLIMSOLL_CHROMIUM names another binary.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

#: Chromium's flags for a closed network and a root user (the machine's notes: without the background-networking
#: flags it keeps trying to reach Google's hosts).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    """The Chromium binary: $PLIMSOLL_CHROMIUM, else `chromium` on PATH.

    Raises:
        FileNotFoundError: none is installed (run `make setup-browser`, or `bash toolchain/chromium.sh`).
    """
    path = os.environ.get("PLIMSOLL_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise FileNotFoundError("no Chromium: run `bash toolchain/chromium.sh` (Debian's chromium package) "
                                "or set PLIMSOLL_CHROMIUM")
    return path


@dataclass
class PageView:
    """What the browser showed: headings (h1, h2 text in order), images (alt → rendered width, CSS px; 0 when the
    image did not decode), tables (rows of cell text), console errors, and whether the page is wider than the
    window (a horizontal scroll bar)."""

    headings: list[str]
    images: dict[str, int]
    tables: list[list[list[str]]]
    console_errors: list[str] = field(default_factory=list)
    overflows: bool = False


def view(page_path: Path, screenshot: Path, width: int = 1280) -> PageView:
    """Load ``page_path`` (a local HTML file) in headless Chromium at ``width`` CSS px, wait until every image has
    loaded, save a full-page PNG to ``screenshot``, and return what was on screen."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            page.wait_for_function("[...document.images].every(i => i.complete)")
            page.screenshot(path=str(screenshot), full_page=True)
            seen = page.evaluate("""() => ({
                headings: [...document.querySelectorAll('h1, h2')].map(h => h.innerText),
                images: Object.fromEntries([...document.images].map(
                    i => [i.alt, i.naturalWidth > 0 ? Math.round(i.getBoundingClientRect().width) : 0])),
                tables: [...document.querySelectorAll('table')].map(t => [...t.rows].map(
                    r => [...r.cells].map(c => c.innerText))),
                overflows: document.documentElement.scrollWidth > window.innerWidth,
            })""")
        finally:
            browser.close()
    return PageView(seen["headings"], seen["images"], seen["tables"], errors, seen["overflows"])
