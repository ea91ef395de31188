"""Issue 22 in the browser: accessibility (axe-core, contrast in every state,
headings, landmarks, the skip link) and the layout (examples above the fold,
a chip opens its source with the title in view, a way back on phones), at
1280x800 and on a 390x844 phone, after eight varied questions."""

from __future__ import annotations

import pytest

from browser_support import LAPTOP, PHONE, Page, live_server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]

QUESTIONS = [
    "Où en est la mesure 16 ?",
    "Qu'est-ce que l'OCRTEH ?",
    "Combien de mesures sont réalisées ?",
    "Que dit la note 47 ?",
    "Que recommande la CNCDH sur la formation des magistrats ?",
    "Quelle est la recette de la tarte tatin ?",
    "What is the status of measure 3?",
    "Et la mesure 17 ?",
]
SIZES = [pytest.param(LAPTOP, False, id="1280x800"), pytest.param(PHONE, True, id="390x844")]


def headings(page: Page) -> list[int]:
    return page.page.evaluate(
        "() => [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].filter(h => h.getClientRects().length)"
        ".map(h => Number(h.tagName[1]))")


def assert_heading_levels(levels: list[int], where: str) -> None:
    assert levels and levels[0] == 1, f"{where}: the page starts with its h1: {levels}"
    for before, after in zip(levels, levels[1:]):
        assert after <= before + 1, f"{where}: a heading level is skipped: {levels}"


@pytest.mark.parametrize("viewport, mobile", SIZES)
def test_examples_sit_in_the_empty_conversation_above_the_fold(browser, live_server, viewport, mobile):
    page = Page(browser, live_server.url, viewport=viewport, mobile=mobile)
    examples = page.page.locator("#tqa-conversation.tqa-empty .tqa-example")
    assert examples.count() >= 4
    bottom = page.page.evaluate("() => Math.max(...[...document.querySelectorAll('#tqa-conversation .tqa-example')]"
                                ".map(e => e.getBoundingClientRect().bottom))")
    assert bottom <= viewport["height"], f"the last example ends at {bottom}px, below the fold"
    page.screenshot(f"empty-{viewport['width']}.png")
    examples.first.click()
    page.wait_answer(0)
    assert page.page.locator("#tqa-conversation .tqa-welcome").count() == 0
    page.close()


@pytest.mark.parametrize("viewport, mobile", SIZES)
def test_no_serious_accessibility_problem_after_eight_questions(browser, live_server, viewport, mobile):
    page = Page(browser, live_server.url, viewport=viewport, mobile=mobile)
    for i, question in enumerate(QUESTIONS):
        page.ask(question, i)
    page.page.wait_for_timeout(300)
    page.screenshot(f"a11y-chat-{viewport['width']}.png")
    problems = {"chat": page.axe()}
    assert_heading_levels(headings(page), "chat")
    # Contrast in the states axe-core cannot judge (a tab's underline, a hovered button).
    contrasts = {"selected tab": page.contrast("#tqa-tabs button[role=tab][aria-selected=true]"),
                 "Envoyer": page.contrast("#tqa-send")}
    page.page.hover("#tqa-send")
    page.page.wait_for_timeout(300)  # Gradio's 0.2 s transition, then until it has ended on a slow machine
    assert page.until("() => document.querySelector('#tqa-send').getAnimations().every(a => a.playState === 'finished')")
    contrasts["Envoyer (survolé)"] = page.contrast("#tqa-send")
    page.page.mouse.move(1, 1)
    # Every landmark has a name when there is more than one of its kind.
    unnamed = page.page.evaluate("() => [...document.querySelectorAll('nav')].filter(n => !n.getAttribute('aria-label')).length")
    assert unnamed == 0, "a nav (breadcrumb) without a label"
    page.tab("Tableau de bord")
    problems["dashboard"] = page.axe()
    assert_heading_levels(headings(page), "dashboard")
    contrasts["selected tab (tableau)"] = page.contrast("#tqa-tabs button[role=tab][aria-selected=true]")
    page.page.locator("#tqa-mtable .tqa-open").first.click()
    problems["measure"] = page.axe()
    page.page.keyboard.press("Escape")
    page.tab("Recherche")
    page.page.fill("#tqa-query textarea", "hébergement des victimes")
    page.page.click("#tqa-search-btn")
    page.page.wait_for_selector("#tqa-results .tqa-hit", timeout=60_000)
    page.page.wait_for_timeout(500)
    problems["search"] = page.axe()
    assert_heading_levels(headings(page), "search")
    contrasts["Rechercher"] = page.contrast("#tqa-search-btn")
    page.screenshot(f"a11y-search-{viewport['width']}.png")
    assert {k: v for k, v in problems.items() if v} == {}
    assert {k: v for k, v in contrasts.items() if v < 4.5} == {}, contrasts
    page.close()


@pytest.mark.parametrize("viewport, mobile", SIZES)
def test_the_last_answer_is_three_keys_from_the_input_and_a_chip_shows_its_source_title(browser, live_server, viewport, mobile):
    page = Page(browser, live_server.url, viewport=viewport, mobile=mobile)
    page.ask("Où en est la mesure 16 ?", 0)
    page.ask("Que recommande la CNCDH sur la formation des magistrats ?", 1)
    page.page.focus("#tqa-question textarea")
    for key in ("Tab", "Tab", "Enter"):
        page.page.keyboard.press(key)
    assert page.page.evaluate("() => document.activeElement.id") == "tqa-answer-1"
    assert page.in_viewport("#tqa-answer-1")
    page.page.keyboard.press("Tab")  # and from the answer, its first chip
    assert page.page.evaluate("() => !!document.activeElement.closest('#tqa-answer-1')")
    page.screenshot(f"skip-{viewport['width']}.png")
    # A chip opens its source with the title in view, however tall the passage.
    page.page.locator("#tqa-answer-1 .tqa-marker").first.click()
    page.page.wait_for_selector(".tqa-source.tqa-active")
    assert page.until_in_viewport(".tqa-source.tqa-active header")  # after a smooth scroll
    page.screenshot(f"chip-{viewport['width']}.png")
    back = page.page.locator(".tqa-source.tqa-active .tqa-back")
    if mobile:  # below the conversation: a way back to the answer
        assert back.is_visible() and page.in_viewport(".tqa-source.tqa-active .tqa-back")
        back.click()
        assert page.until_in_viewport("#tqa-answer-1")
        assert page.page.evaluate("() => document.activeElement.id") == "tqa-answer-1"
    else:  # side by side: the answer never left
        assert not back.is_visible()
        assert page.in_viewport("#tqa-answer-1")
    page.close()
