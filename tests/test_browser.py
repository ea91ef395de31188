"""The web chat in headless Debian chromium (Playwright), on a real server.

Every request that would leave 127.0.0.1 is blocked and recorded; each test
asserts none was attempted (no CDN, no web fonts, no analytics), and that the
page broke no rule of its Content-Security-Policy (the server sends the
smallest policy the page works with: each test's flows prove it works).
Screenshots go to tests/out/; they are copied to docs/screenshots/ when that
copy is missing or TRAITE_QA_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from traite_qa.document import Status
import live

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "out"
DOCS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
ANSWER_TIMEOUT = 90_000  # ms; the first answer may wait for a busy machine


@pytest.fixture(scope="session")
def live_server(index_settings):
    server = live.acquire(index_settings.index_dir, OUT)
    yield server
    live.release(server)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is missing: `make browser-deps` (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Page:
    """A fresh browser tab (new Gradio session) with the network guard."""

    def __init__(self, browser, url: str):
        self.url = url
        self.external: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.csp: list[str] = []  # console reports of what the Content-Security-Policy blocked
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="fr-FR")
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda err: self.errors.append(str(err)))
        self.page.on("console", self._console)
        self.response = self.page.goto(url + "/")
        self.page.wait_for_selector("#tqa-question textarea", timeout=30_000)

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

    def ask(self, question: str, index: int):
        self.page.fill("#tqa-question textarea", question)
        self.page.click("#tqa-send")
        return self.wait_answer(index)

    def wait_answer(self, index: int):
        return self.page.wait_for_selector(f"#tqa-answer-{index}", timeout=ANSWER_TIMEOUT)

    def screenshot(self, name: str, full_page: bool = False) -> Path:
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


@pytest.fixture
def tab(browser, live_server):
    page = Page(browser, live_server.url)
    yield page
    page.context.close()
    assert page.external == [], f"requests leaving 127.0.0.1: {page.external}"
    assert page.dialogs == [], f"dialogs fired: {page.dialogs}"
    assert page.csp == [], f"the Content-Security-Policy blocked: {page.csp}"


def publish(shot: Path, name: str) -> None:
    target = DOCS / name
    if not target.exists() or os.environ.get("TRAITE_QA_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


# ------------------------------------------------------------------ chat
def test_status_question_shows_answer_badge_and_sources(tab):
    bubble = tab.ask("Où en est la mesure 16 ?", 0)
    assert "Non réalisée" in bubble.inner_text()
    chip = tab.page.locator("#tqa-answer-0 .tqa-marker", has_text="Mesure 16")
    assert chip.count() == 1
    card = tab.page.locator('#tqa-sources .tqa-source[data-marker="Mesure 16"]')
    assert card.count() == 1 and card.is_visible()
    assert "Axe 2 › Action 5 › Mesure 16" in card.locator(".tqa-crumbs").inner_text()
    assert card.locator(".tqa-badge.tqa-status-non-realisee").inner_text() == "Non réalisée"
    assert card.locator("mark.tqa-quote").count() >= 1
    chip.click()
    tab.page.wait_for_selector("#tqa-src-0-0.tqa-active")
    tab.page.wait_for_timeout(700)  # smooth scroll
    publish(tab.screenshot("chat.png"), "chat.png")
    tab.screenshot("chat-full.png", full_page=True)
    assert not tab.errors, tab.errors


def test_clicking_a_marker_of_an_earlier_answer_shows_its_passage(tab):
    tab.ask("Qu'est-ce que l'OCRTEH ?", 0)
    tab.ask("Que dit la note 47 ?", 1)
    first_section = tab.page.locator('.tqa-sources-turn[data-turn="0"]')
    assert first_section.is_hidden()  # only the latest answer's sources are listed
    tab.page.locator("#tqa-answer-0 .tqa-marker").first.click()
    card = tab.page.locator("#tqa-src-0-0")
    tab.page.wait_for_selector("#tqa-src-0-0.tqa-active")
    assert first_section.is_visible() and card.is_visible()
    assert "OCRTEH" in card.inner_text()
    tab.page.wait_for_timeout(700)
    box = card.bounding_box()
    assert box is not None and 0 <= box["y"] < 1000  # scrolled into view
    assert tab.page.locator('.tqa-sources-turn[data-turn="1"]').is_hidden()


def test_footnote_call_opens_the_note(tab):
    tab.ask("Où en est la mesure 3 ?", 0)
    calls = tab.page.locator("#tqa-sources .tqa-fnref")
    if calls.count() == 0:
        pytest.skip("the cited passage of measure 3 calls no footnote in this index")
    note_id = calls.first.get_attribute("data-note")
    calls.first.click()
    assert tab.page.locator(f"#{note_id}").get_attribute("open") is not None


def test_xss_question_is_shown_as_text_and_runs_nothing(tab):
    payload = "<img src=x onerror=alert(1)><script>window.__pwned=1</script><b onmouseover=alert(2)>gras</b>"
    tab.ask(payload, 0)
    page = tab.page
    assert page.locator(".tqa-user .tqa-bubble").first.inner_text() == payload
    assert page.evaluate("() => document.querySelectorAll('#tqa-conversation img, #tqa-conversation script, #tqa-conversation b').length") == 0
    assert page.evaluate("() => document.querySelectorAll('img[src=x], [onerror], [onmouseover]').length") == 0
    assert page.evaluate("() => window.__pwned === undefined")
    page.locator(".tqa-user .tqa-bubble").first.hover()
    page.wait_for_timeout(300)
    assert tab.dialogs == []


def test_no_answer_is_kind_and_a_topic_is_one_click(tab):
    bubble = tab.ask("Quelle est la recette de la tarte tatin ?", 0)
    assert "Désolé" in bubble.inner_text()
    topics = tab.page.locator("#tqa-answer-0 .tqa-suggest")
    assert topics.count() >= 1
    topics.first.click()
    second = tab.wait_answer(1)
    assert second.inner_text().strip()


def test_example_copy_follow_up_and_clear(tab):
    tab.page.locator(".tqa-example", has_text="Où en est la mesure 16 ?").click()
    first = tab.wait_answer(0)
    assert "Non réalisée" in first.inner_text()
    tab.page.click("#tqa-copy-last")
    copied = tab.page.wait_for_function("() => window.__tqaLastCopied").json_value()
    assert copied.startswith("La mesure 16") and "[Mesure 16]" in copied
    follow = tab.ask("Et la mesure 17 ?", 1)
    assert "17" in follow.inner_text()
    tab.page.click("#tqa-clear")
    tab.page.wait_for_selector("#tqa-conversation.tqa-empty")
    assert tab.page.locator("#tqa-sources .tqa-source").count() == 0


def test_english_question(tab):
    bubble = tab.ask("What is the status of measure 3?", 0)
    assert "partially implemented" in bubble.inner_text()


# ------------------------------------------------------------- dashboard
def test_dashboard_has_the_plot_and_the_45_measures(tab, evaluation):
    page = tab.page
    page.get_by_role("tab", name="Tableau de bord").click()
    page.wait_for_selector("#tqa-plot svg .mark-rect path[aria-roledescription=bar]", timeout=30_000)
    labels = page.eval_on_selector_all("#tqa-plot svg .mark-rect path[aria-roledescription=bar]", "els => els.map(e => e.getAttribute('aria-label'))")
    bars = set()
    for label in labels:  # "Axe: Axe 1; Nombre de mesures: 7; Statut: Non réalisée"
        fields = dict(part.split(": ", 1) for part in label.split("; "))
        bars.add((fields["Axe"], int(fields["Nombre de mesures"]), fields["Statut"]))
    expected = set()
    for axis in evaluation.axes:
        for status in Status:
            count = len(evaluation.measures_with(status=status, axis=axis.number))
            if count:
                expected.add((f"Axe {axis.number}", count, status.value))
    assert bars == expected  # one stacked segment per (axis, status), with the document's counts
    page.wait_for_selector("#tqa-table [role=row]")
    rows = page.evaluate(
        "() => Array.from(document.querySelectorAll('#tqa-table [role=row]'))"
        ".filter(r => !r.querySelector('[role=columnheader], th')).length"
    )
    assert rows == 45
    page.locator("#tqa-table").get_by_text("Mettre en place un mécanisme national de référence", exact=True).click()
    page.wait_for_selector("#tqa-measure .tqa-measure", timeout=30_000)
    detail = page.locator("#tqa-measure").inner_text()
    assert "Mesure 16 : Mettre en place un mécanisme national de référence" in detail
    assert "Non réalisée" in detail
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(500)
    publish(tab.screenshot("dashboard.png"), "dashboard.png")
    tab.screenshot("dashboard-full.png", full_page=True)
    assert not tab.errors, tab.errors


def test_dashboard_table_search_filters_rows(tab):
    page = tab.page
    page.get_by_role("tab", name="Tableau de bord").click()
    search = page.locator("#tqa-table input").first
    search.fill("hébergement")
    page.wait_for_timeout(500)
    rows = page.evaluate(
        "() => Array.from(document.querySelectorAll('#tqa-table [role=row]'))"
        ".filter(r => !r.querySelector('[role=columnheader], th')).length"
    )
    assert 1 <= rows < 45


def test_dashboard_table_sorts_and_a_sorted_row_opens_its_measure(tab, evaluation):
    page = tab.page
    page.get_by_role("tab", name="Tableau de bord").click()
    header = page.locator('#tqa-table th[data-heading="4"]')  # Statut
    header.hover()
    header.locator(".cell-menu-button").click()
    page.get_by_role("menuitem").nth(1).click()  # "Trier par ordre décroissant" (sort descending)
    page.wait_for_timeout(400)
    firsts = page.evaluate(
        "() => Array.from(document.querySelectorAll('#tqa-table [role=row]'))"
        ".filter(r => !r.querySelector('[role=columnheader], th')).slice(0, 3)"
        ".map(r => parseInt(r.innerText.trim(), 10))"
    )
    done = sorted(m.number for m in evaluation.measures if m.status.value == "Réalisée")
    assert sorted(firsts) == done  # 'Réalisée' sorts last, so first when descending
    title = evaluation.measure(firsts[0]).title
    page.locator("#tqa-table").get_by_text(title, exact=True).click()
    page.wait_for_selector("#tqa-measure .tqa-measure", timeout=30_000)
    assert f"Mesure {firsts[0]} : {title}" in page.locator("#tqa-measure").inner_text()


# ---------------------------------------------------------------- search
def test_raw_search_lists_ranked_hits_with_scores(tab):
    page = tab.page
    page.get_by_role("tab", name="Recherche").click()
    page.fill("#tqa-query textarea", "mécanisme national de référence")
    page.click("#tqa-search-btn")
    page.wait_for_selector("#tqa-results .tqa-hit", timeout=ANSWER_TIMEOUT)
    hits = page.locator("#tqa-results .tqa-hit")
    assert hits.count() == 5
    assert "score" in hits.first.inner_text()
    tab.screenshot("search.png")


# ---------------------------------------------------------------- security
def test_the_page_carries_its_security_headers_and_cannot_be_framed(tab, live_server):
    headers = tab.response.all_headers()
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    framing = tab.context.new_page()
    framing.set_content(f'<iframe id="f" src="{live_server.url}/" width="800" height="600"></iframe>')
    framing.wait_for_timeout(2500)
    frame = framing.frame_locator("#f")
    assert frame.locator("#tqa-question").count() == 0  # the browser refused to show the chat in a frame
    framing.close()


def test_api_docs_page_works_under_the_policy(tab, live_server):
    tab.page.goto(live_server.url + "/docs")
    tab.page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert tab.page.locator(".swagger-ui .opblock").count() >= 5


@pytest.fixture(scope="module")
def generator_server(index_settings):
    """A server whose answers a (fake, slow) generator writes."""
    from fakes import FakeChatServer, Reply

    fake = FakeChatServer(Reply(GENERATED, pieces=12, piece_delay=0.25)).start()
    server = live.start(index_settings.index_dir, OUT, env={"TRAITE_QA_LLM_BASE_URL": fake.base_url, "TRAITE_QA_LLM_MODEL": "fake"})
    yield server
    live.stop(server)
    fake.stop()


GENERATED = "Selon l'évaluation, la formation des magistrats à la traite des êtres humains reste insuffisante et doit être renforcée."


def test_a_generated_answer_streams_into_its_pending_bubble(browser, generator_server):
    """The server sends only the streamed text (#tqa-live), not the whole
    conversation at each piece; chat.js shows it in the pending bubble."""
    tab = Page(browser, generator_server.url)
    try:
        tab.page.fill("#tqa-question textarea", "hébergement des victimes")  # a search answer: the generator writes it
        tab.page.click("#tqa-send")
        tab.page.wait_for_function(
            "() => { const s = document.querySelector('#tqa-conversation .tqa-streaming .tqa-answer-text');"
            " return s && s.textContent.startsWith('Selon'); }",
            timeout=ANSWER_TIMEOUT,
        )
        partial = tab.page.locator("#tqa-conversation .tqa-streaming .tqa-answer-text").inner_text()
        assert partial and GENERATED.startswith(partial.strip()[:20])
        assert tab.page.locator("#tqa-live").is_hidden()  # the carrier is never shown itself
        final = tab.wait_answer(0)
        assert "Selon l'évaluation" in final.inner_text()
        assert tab.page.locator("#tqa-conversation .tqa-streaming").count() == 0
        assert tab.csp == [] and not tab.errors, (tab.csp, tab.errors)
    finally:
        tab.context.close()
