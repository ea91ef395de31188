"""What the browser tests share (the `browser` fixture itself is in conftest.py,
one per session): a tab
with the network guard, axe-core, and the checks a person's eye would make.

Every request that would leave 127.0.0.1 is blocked and recorded; each test
asserts none was attempted (no CDN, no web fonts, no analytics), and that the
page broke no rule of its Content-Security-Policy. Screenshots go to
tests/out/; they are copied to docs/screenshots/ when that copy is missing or
TRAITE_QA_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

import live

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "out"
DOCS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
ANSWER_TIMEOUT = 90_000  # ms; the first answer may wait for a busy machine
SETTLE_TIMEOUT = 10_000  # ms for the page to reach a state by itself (a smooth scroll takes ~0.5 s)
IN_VIEWPORT_JS = """(sel) => { const el = document.querySelector(sel); if (!el) return false;
    const r = el.getBoundingClientRect();
    if (r.top < 0 || r.top > window.innerHeight - 10) return false;
    for (let p = el.parentElement; p; p = p.parentElement) {
        const s = getComputedStyle(p);
        if (!/(auto|scroll|hidden)/.test(s.overflowY)) continue;
        const b = p.getBoundingClientRect();
        if (r.top < b.top - 1 || r.top > b.bottom - 10) return false; }
    return true; }"""
DESKTOP = {"width": 1440, "height": 900}
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
# English strings Gradio's components show by default (its en.json and the
# strings it does not translate): none may be visible on the French page.
GRADIO_ENGLISH = [
    "Search...", "Filter...", "Filter", "Clear filters", "Copy table data", "Fullscreen", "Exit fullscreen mode",
    "Copy", "Copied", "Clear", "Close", "Loading...", "Loading", "Error", "Submit", "Use via API", "Built with Gradio",
    "Settings", "Download", "Reset", "Share", "Dropdown", "Slider", "Textbox", "Select", "More tabs",
    "Reset to default value", "Gradio footer navigation", "Sort ascending", "Sort descending", "Clear sort",
    "Drop File Here", "Click to Upload", "Undo", "Retry", "Like", "Dislike", "Stop", "Record", "Expand", "Collapse",
    "Show more", "Show less", "No results", "Page", "Select all", "Remove", "Edit", "Cancel", "Empty",
]


@pytest.fixture(scope="session")
def live_server(index_settings):
    server = live.acquire(index_settings.index_dir, OUT)
    yield server
    live.release(server)


class Page:
    """A fresh browser context (new Gradio session, empty localStorage) with the network guard."""

    def __init__(self, browser, url: str, viewport: dict | None = None, mobile: bool = False, wait: bool = True):
        self.url = url
        self.external: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.csp: list[str] = []  # console reports of what the Content-Security-Policy blocked
        extra = {"is_mobile": True, "has_touch": True} if mobile else {}
        self.context = browser.new_context(viewport=viewport or DESKTOP, locale="fr-FR", accept_downloads=True, **extra)
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("console", self._console)
        self.response = self.page.goto(url + "/")
        if wait:
            self.ready()

    def ready(self):
        self.page.wait_for_selector("#tqa-question textarea", timeout=30_000)
        self.page.wait_for_function("() => window.tqaQueueState && !window.tqaQueueState().restoring")

    def _guard(self, route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            return route.continue_()
        self.external.append(route.request.url)
        return route.abort()

    def _console(self, message):
        if "Content Security Policy" in message.text:
            self.csp.append(message.text[:300])

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def send(self, question: str):
        self.page.fill("#tqa-question textarea", question)
        self.page.click("#tqa-send")

    def ask(self, question: str, index: int):
        self.send(question)
        return self.wait_answer(index)

    def wait_answer(self, index: int):
        self.page.wait_for_selector(f"#tqa-answer-{index}", timeout=ANSWER_TIMEOUT)
        return self.page.locator(f"#tqa-answer-{index}")

    def tab(self, name: str):
        self.page.get_by_role("tab", name=name).click()
        self.page.wait_for_timeout(300)

    def screenshot(self, name: str, full_page: bool = False) -> Path:
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def in_viewport(self, selector: str) -> bool:
        """The element's top is on screen, inside every scrolling box around it."""
        return self.page.evaluate(IN_VIEWPORT_JS, selector)

    def until(self, script: str, arg=None, timeout: float = SETTLE_TIMEOUT) -> bool:
        """Whether the JS function `script(arg)` turns true within `timeout` ms.

        A state the page reaches by itself (a scroll, an echo, a warning) is
        waited for, not slept for: a fixed 150 ms before an assertion failed on
        a loaded CI machine (the echo came later). A test of something that
        must *not* happen keeps its sleep, which load can only make easier."""
        try:
            self.page.wait_for_function(script, arg=arg, timeout=timeout)
        except PlaywrightTimeout:
            return False
        return True

    def until_in_viewport(self, selector: str, timeout: float = SETTLE_TIMEOUT) -> bool:
        return self.until(IN_VIEWPORT_JS, selector, timeout)

    def too_wide(self) -> list[str]:
        """Visible elements that reach past the viewport's right or left edge."""
        return self.page.evaluate(
            """() => { const w = document.documentElement.clientWidth; const out = [];
                document.querySelectorAll('body *').forEach(el => {
                    if (el.closest('dialog:not([open]), [hidden]')) return;
                    const r = el.getBoundingClientRect();
                    if (r.width > 0 && r.height > 0 && (r.right > w + 1 || r.left < -1))
                        out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '.' + String(el.className).slice(0, 40) + ' ' + Math.round(r.left) + '..' + Math.round(r.right)); });
                if (document.documentElement.scrollWidth > w + 1) out.push('page scrollWidth ' + document.documentElement.scrollWidth);
                return out; }"""
        )

    def english_strings(self) -> list[str]:
        """Gradio's English defaults found in visible text, placeholders, titles and labels."""
        return self.page.evaluate(
            """(words) => { const found = new Set(); const set = new Set(words);
                const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT); let n;
                while ((n = walker.nextNode())) { const t = n.nodeValue.trim(); const el = n.parentElement;
                    if (t && set.has(t) && el && el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden') found.add(t); }
                document.querySelectorAll('[placeholder], [title], [aria-label]').forEach(el => {
                    for (const a of ['placeholder', 'title', 'aria-label']) { const v = (el.getAttribute(a) || '').trim();
                        if (set.has(v)) found.add(a + '=' + v); } });
                return [...found]; }""",
            GRADIO_ENGLISH,
        )

    def axe(self) -> list[str]:
        """axe-core's serious and critical violations on the page as it is now."""
        from axe_playwright_python.base import AXE_SCRIPT

        self.page.evaluate(AXE_SCRIPT)
        result = self.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        return [
            f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:5]]} {v['nodes'][0].get('failureSummary', '')[:200]}"
            for v in result["violations"]
            if v.get("impact") in ("serious", "critical")
        ]

    def contrast(self, selector: str) -> float:
        """WCAG contrast of the element's text on the first opaque background under it (its state as it is now)."""
        return self.page.evaluate(
            """(sel) => { const el = document.querySelector(sel); if (!el) return -1;
                const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
                const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
                let bg = null;
                for (let p = el; p; p = p.parentElement) { const c = rgb(getComputedStyle(p).backgroundColor);
                    if (c.length === 3 || (c.length === 4 && c[3] >= 0.99)) { bg = c.slice(0, 3); break; } }
                bg = bg || [255, 255, 255];
                const fg = rgb(getComputedStyle(el).color).slice(0, 3);
                const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
                return Math.round(((a + 0.05) / (b + 0.05)) * 100) / 100; }""",
            selector,
        )

    def close(self):
        self.context.close()
        assert self.external == [], f"requests leaving 127.0.0.1: {self.external}"
        assert self.dialogs == [], f"dialogs fired: {self.dialogs}"
        assert self.csp == [], f"the Content-Security-Policy blocked: {self.csp}"
        assert self.errors == [], f"page errors: {self.errors}"


@pytest.fixture
def tab(browser, live_server):
    page = Page(browser, live_server.url)
    yield page
    page.close()


def publish(shot: Path, name: str) -> None:
    target = DOCS / name
    if not target.exists() or os.environ.get("TRAITE_QA_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)
