"""The web chat in headless Debian chromium (Playwright), on a real server:
each fix of issue 14 checked as a person would see it (see browser_support
for the network and Content-Security-Policy guards every tab carries)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import live
from browser_support import ANSWER_TIMEOUT, OUT, SETTLE_TIMEOUT, Page, live_server, publish, tab  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.server, pytest.mark.slow]


# ------------------------------------------------------------------ chat
def test_status_question_shows_answer_badge_and_sources(tab):
    bubble = tab.ask("Où en est la mesure 16 ?", 0)
    assert re.search(r"non réalisée", bubble.inner_text(), re.I)
    chip = tab.page.locator("#tqa-answer-0 .tqa-marker", has_text="Mesure 16")
    assert chip.count() >= 1
    # The direct sentence first, then the quotes as a list, one per line.
    assert tab.page.locator("#tqa-answer-0 .tqa-lead").count() == 1
    assert tab.page.locator("#tqa-answer-0 ul.tqa-quotes > li").count() >= 2
    card = tab.page.locator('#tqa-sources .tqa-source[data-marker="Mesure 16"]')
    assert card.count() == 1 and card.is_visible()
    assert "Axe 2 › Action 5 › Mesure 16" in card.locator(".tqa-crumbs").inner_text()
    assert card.locator(".tqa-badge.tqa-status-non-realisee").inner_text() == "Non réalisée"
    assert card.locator("mark.tqa-quote").count() >= 1
    chip.first.click()
    tab.page.wait_for_selector("#tqa-src-0-0.tqa-active")
    tab.page.wait_for_timeout(700)  # smooth scroll


def test_the_newest_answer_is_in_view_after_six_questions_and_a_pill_when_reading_above(tab):
    questions = ["Où en est la mesure 16 ?", "Qu'est-ce que l'OCRTEH ?", "Que dit la note 47 ?",
                 "Combien de mesures sont réalisées ?", "Où en est la mesure 3 ?", "Où en est la mesure 20 ?"]
    for i, question in enumerate(questions):
        tab.ask(question, i)
        assert tab.until_in_viewport(f"#tqa-answer-{i}"), f"answer {i + 1} is out of sight"
    publish(tab.screenshot("chat.png"), "chat.png")
    # Scrolling up to read while an answer is pending: the answer does not
    # pull the reader away, a pill says it came.
    tab.page.evaluate("() => { window.tqaAsk('Où en est la mesure 21 ?'); const c = document.getElementById('tqa-conversation');"
                      " c.scrollTop = 0; c.dispatchEvent(new Event('scroll')); }")
    tab.wait_answer(6)
    tab.page.wait_for_timeout(400)  # time to be pulled away, if it were
    assert tab.page.evaluate("() => document.getElementById('tqa-conversation').scrollTop") < 50
    pill = tab.page.locator("#tqa-newpill")
    expect(pill).to_be_visible(timeout=SETTLE_TIMEOUT)
    assert pill.inner_text() == "nouvelle réponse ↓"
    pill.click()
    assert tab.until_in_viewport("#tqa-answer-6")
    expect(pill).to_be_hidden(timeout=SETTLE_TIMEOUT)


def test_two_questions_in_a_row_are_both_echoed_and_answered_in_order(tab):
    questions = ["Où en est la mesure 16 ?", "Qu'est-ce que l'OCRTEH ?"]
    # Every question the page echoes itself (before the server answers it) is
    # recorded at each change of the page: the test then asserts the order of
    # what happened, not what a fixed sleep happened to catch. A 150 ms sleep
    # failed on a loaded machine at c78f97b.
    tab.page.evaluate("""() => { window.__echoed = []; new MutationObserver(() => {
        for (const b of document.querySelectorAll('#tqa-conversation .tqa-user.tqa-echo .tqa-bubble'))
            if (!window.__echoed.includes(b.textContent)) window.__echoed.push(b.textContent);
      }).observe(document.body, {childList: true, subtree: true, characterData: true}); }""")
    tab.send(questions[0])
    tab.page.wait_for_timeout(100)
    tab.send(questions[1])
    expect(tab.page.locator("#tqa-question textarea")).to_have_value("", timeout=SETTLE_TIMEOUT)
    tab.page.fill("#tqa-question textarea", "texte en cours de frappe")
    assert "16" in tab.wait_answer(0).inner_text()
    assert "OCRTEH" in tab.wait_answer(1).inner_text()
    assert tab.page.evaluate("() => window.__echoed") == questions  # both echoed by the page, in order
    assert tab.page.locator("#tqa-conversation .tqa-user .tqa-bubble").all_inner_texts() == questions
    assert tab.page.input_value("#tqa-question textarea") == "texte en cours de frappe"  # never erased by an answer


def test_the_conversation_survives_a_reload_and_exports_as_markdown(tab):
    tab.ask("Où en est la mesure 16 ?", 0)
    tab.ask("Qu'est-ce que l'OCRTEH ?", 1)
    tab.page.reload()
    tab.ready()
    tab.page.wait_for_selector("#tqa-answer-1", timeout=30_000)
    assert tab.page.locator("#tqa-conversation .tqa-user .tqa-bubble").all_inner_texts() == [
        "Où en est la mesure 16 ?", "Qu'est-ce que l'OCRTEH ?"]
    assert tab.page.locator('#tqa-sources .tqa-source[data-marker="Sigle OCRTEH"]').is_visible()
    # A follow-up after the reload still knows the conversation.
    follow = tab.ask("Et la mesure 17 ?", 2)
    assert "17" in follow.inner_text()
    with tab.page.expect_download() as download:
        tab.page.click("#tqa-export")
    path = download.value.path()
    text = open(path, encoding="utf-8").read()
    assert download.value.suggested_filename.endswith(".md")
    assert text.startswith("# Conversation avec traite-qa")
    for n, question in enumerate(["Où en est la mesure 16 ?", "Qu'est-ce que l'OCRTEH ?", "Et la mesure 17 ?"], 1):
        assert f"## {n}. {question}" in text
    assert "[Mesure 16]" in text and "Sources :" in text and "- [Sigle OCRTEH]" in text


def test_footnote_call_opens_the_note(tab):
    tab.ask("Où en est la mesure 14 ?", 0)
    calls = tab.page.locator("#tqa-sources .tqa-sources-turn:not([hidden]) .tqa-fnref")
    assert calls.count() >= 1, "measure 14's passages call footnotes 25 to 29"
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
    # gr.HTML renders through JS templates (Handlebars, `${}`): user text is not a template.
    template = "${alert(1)} {{constructor.constructor('alert(2)')()}} ${window.__x=1} {{#each this}}x{{/each}}"
    tab.ask(template, 1)
    assert page.locator(".tqa-user .tqa-bubble").nth(1).inner_text() == template
    assert page.evaluate("() => window.__x === undefined") and tab.dialogs == []
    # Kept in localStorage and restored after a reload: still text.
    page.reload()
    tab.ready()
    page.wait_for_selector("#tqa-answer-0", timeout=30_000)
    assert page.locator(".tqa-user .tqa-bubble").first.inner_text() == payload
    assert page.evaluate("() => window.__pwned === undefined")


def test_a_summary_is_a_short_list_of_one_line_points_with_chips_and_no_bare_link(tab):
    bubble = tab.ask("Résume le document en 5 points", 0)
    points = tab.page.locator("#tqa-answer-0 ul.tqa-quotes > li")
    assert points.count() >= 3, bubble.inner_text()
    for i in range(points.count()):
        item = points.nth(i)
        text = item.inner_text().strip()
        assert "«" in text and "\n" not in text, text  # one quoted line per point
        quoted = text.split("«", 1)[1].rsplit("»", 1)[0]
        assert not re.fullmatch(r"\s*(https?://\S+|JORF[^»]*)\s*", quoted), text  # never a bare reference
        assert item.locator(".tqa-marker").count() >= 1, text  # its chip
    tab.screenshot("summary-desktop.png")


def test_no_answer_says_it_once_and_a_topic_is_one_click(tab):
    bubble = tab.ask("Quelle est la recette de la tarte tatin ?", 0)
    text = bubble.inner_text()
    assert "Désolé" not in text and text.count("pas de réponse") == 1
    details = tab.page.locator("#tqa-answer-0 .tqa-notes")
    assert details.count() == 1 and details.get_attribute("open") is None  # technical notes folded away
    visible = tab.page.locator("#tqa-answer-0 .tqa-answer-text").inner_text()
    assert "cosine" not in visible and "off-topic" not in visible
    topics = tab.page.locator("#tqa-answer-0 .tqa-suggest")
    assert topics.count() >= 1
    label = topics.first.inner_text()
    assert visible.count(label) == 0  # the topics are chips, not repeated in the text
    topics.first.click()
    assert tab.wait_answer(1).inner_text().strip()


def test_one_copy_button_per_answer_copies_markdown_and_clear_empties(tab):
    tab.page.locator(".tqa-example", has_text="Où en est la mesure 16 ?").click()
    tab.wait_answer(0)
    assert tab.page.locator("#tqa-copy-last").count() == 0
    copies = tab.page.locator("#tqa-answer-0 .tqa-copy")
    assert copies.count() == 1
    copies.click()
    copied = tab.page.wait_for_function("() => window.__tqaLastCopied").json_value()
    assert copied.startswith("La mesure 16") and "\n- « " in copied and "[Mesure 16]" in copied
    tab.page.click("#tqa-clear")
    tab.page.wait_for_selector("#tqa-conversation.tqa-empty")
    assert tab.page.locator("#tqa-sources .tqa-source").count() == 0
    assert tab.page.evaluate("() => window.tqaSavedTurns().length") == 0


def test_pasted_text_over_the_limit_is_not_cut_and_says_so(tab):
    text = "Où en est la mesure 16 ? " + "x" * 2100
    tab.page.fill("#tqa-question textarea", text)
    tab.page.click("#tqa-send")
    warning = tab.page.locator("#tqa-count")
    expect(warning).to_contain_text("la limite est de 2000", timeout=SETTLE_TIMEOUT)
    assert warning.is_visible()
    tab.page.wait_for_timeout(300)  # time to be sent or cleared, if it were
    assert tab.page.input_value("#tqa-question textarea") == text  # kept whole
    assert tab.page.locator("#tqa-conversation .tqa-user").count() == 0  # not sent


def test_filters_are_said_under_the_answer(tab):
    tab.page.click("#tqa-status input")
    tab.page.get_by_role("option", name="Non réalisée").click()
    bubble = tab.ask("formation des magistrats", 0)
    assert "statut « non réalisée »" in bubble.locator(".tqa-filters").inner_text()
    tab.page.click("#tqa-no-filters")
    assert tab.until("() => document.querySelector('#tqa-status input').value === 'Tous les statuts'")
    assert tab.ask("formation des magistrats", 1).locator(".tqa-filters").count() == 0


def test_a_greeting_gets_a_welcome_and_a_polite_question_its_plain_answer(tab):
    """Politeness neither triggers an unrelated answer nor changes the answer."""
    hello = tab.ask("Bonjour !", 0)
    assert "Bonjour" in hello.inner_text() and "Où en est la mesure 16" in hello.inner_text()
    assert tab.page.locator("#tqa-answer-0 .tqa-marker").count() == 0  # nothing quoted for a greeting
    polite = tab.ask("Bonjour, pourriez-vous me dire où en est la mesure 16 ? Merci.", 1)
    assert re.search(r"non réalisée", polite.inner_text(), re.I)
    assert tab.page.locator("#tqa-answer-1 .tqa-marker", has_text="Mesure 16").count() >= 1


def test_english_question(tab):
    bubble = tab.ask("What is the status of measure 3?", 0)
    assert "partially implemented" in bubble.inner_text()


# --------------------------------------------------------------- feedback
def test_thumbs_up_and_down_with_a_comment_land_in_sqlite(tab, live_server, index_settings):
    import sqlite3

    first = tab.ask("Où en est la mesure 16 ?", 0)
    second = tab.ask("Qu'est-ce que l'OCRTEH ?", 1)
    first.locator('.tqa-rate[data-rating="up"]').click()
    first.locator(".tqa-fb-status", has_text="Merci").wait_for()
    second.locator('.tqa-rate[data-rating="down"]').click()
    second.locator('input[value="reponse_incomplete"]').check()
    second.locator(".tqa-fb-comment").fill("Il manque la date de création de l'office.")
    second.locator(".tqa-fb-send").click()
    second.locator(".tqa-fb-status", has_text="Merci").wait_for()
    ids = [b.get_attribute("data-answer-id") for b in (first.locator(".tqa-feedback"), second.locator(".tqa-feedback"))]
    db = index_settings.index_dir.parent / "feedback.sqlite3"
    with sqlite3.connect(db) as conn:
        rows = {r[0]: r[1:] for r in conn.execute(
            "SELECT answer_id, rating, reason, comment, question FROM feedback WHERE answer_id IN (?, ?)", ids)}
    assert rows[ids[0]] == ("up", None, None, "Où en est la mesure 16 ?")
    assert rows[ids[1]] == ("down", "reponse_incomplete", "Il manque la date de création de l'office.", "Qu'est-ce que l'OCRTEH ?")
    # Shown as sent after the next render too.
    tab.ask("Où en est la mesure 3 ?", 2)
    assert first.locator('.tqa-rate[data-rating="up"]').get_attribute("aria-pressed") == "true"


def test_a_rating_says_what_it_sends_and_is_changed_then_withdrawn(tab, live_server, index_settings):
    import sqlite3

    bubble = tab.ask("Où en est la mesure 16 ?", 0)
    note = bubble.locator(".tqa-fb-note")
    assert note.is_visible() and "la question et cette réponse" in note.inner_text() and "retirer" in note.inner_text()
    answer_id = bubble.locator(".tqa-feedback").get_attribute("data-answer-id")
    db = index_settings.index_dir.parent / "feedback.sqlite3"

    def rows():
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT rating, reason, comment FROM feedback WHERE answer_id = ? ORDER BY rowid",
                                (answer_id,)).fetchall()

    # Other tests of this module's server may have rated the same answer: only this test's rows count.
    earlier = len(rows())

    def stored():
        return rows()[earlier:]

    bubble.locator('.tqa-rate[data-rating="up"]').click()
    bubble.locator(".tqa-fb-status", has_text="Merci").wait_for()
    assert stored() == [("up", None, None)]
    # Changed to 👎 with a reason: still one row, the latest.
    bubble.locator('.tqa-rate[data-rating="down"]').click()
    bubble.locator('input[value="erreur_de_statut"]').check()
    bubble.locator(".tqa-fb-send").click()
    bubble.locator(".tqa-fb-status", has_text="modifié").wait_for()
    assert stored() == [("down", "erreur_de_statut", None)]
    assert bubble.locator('.tqa-rate[data-rating="down"]').get_attribute("aria-pressed") == "true"
    tab.screenshot("feedback-changed.png")
    # Withdrawn: gone from the database, the buttons free again.
    bubble.locator(".tqa-fb-withdraw").click()
    bubble.locator(".tqa-fb-status", has_text="retiré").wait_for()
    assert stored() == []
    assert bubble.locator(".tqa-fb-withdraw").is_hidden()
    assert bubble.locator('.tqa-rate[aria-pressed="true"]').count() == 0
    tab.screenshot("feedback-withdrawn.png")


@pytest.fixture(scope="module")
def own_server(index_settings, tmp_path_factory):
    """The module's own server (one start-up for two tests): its feedback
    database cannot be created (its folder is a file), and a fake, slow
    generator writes its search answers. Neither touches the other's test:
    the generator skips a measure's status answer, and the database is only
    opened when feedback is saved."""
    from fakes import FakeChatServer, Reply

    tmp = tmp_path_factory.mktemp("own-server")
    (tmp / "not-a-folder").write_text("x")
    fake = FakeChatServer(Reply(GENERATED, pieces=12, piece_delay=0.25)).start()
    server = live.start(index_settings.index_dir, OUT, env={
        "TRAITE_QA_DATABASE_URL": f"sqlite:///{tmp}/not-a-folder/x.sqlite3",
        "TRAITE_QA_LLM_BASE_URL": fake.base_url, "TRAITE_QA_LLM_MODEL": "fake"})
    yield server
    live.stop(server)
    fake.stop()


def test_a_feedback_that_cannot_be_saved_says_so_and_the_answer_stays(browser, own_server):
    # A database that cannot be created: saving fails, answering does not.
    page = Page(browser, own_server.url)
    try:
        bubble = page.ask("Où en est la mesure 16 ?", 0)
        bubble.locator('.tqa-rate[data-rating="up"]').click()
        status = bubble.locator(".tqa-fb-status.tqa-fb-error")
        status.wait_for(timeout=20_000)
        assert "n'a pas pu être enregistré" in status.inner_text()
        assert "non réalisée" in page.page.locator("#tqa-answer-0").inner_text().lower()
    finally:
        page.close()


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


# Several sentences: the library releases generated text a checked sentence at
# a time, so the first ones stream while the rest is still being written.
GENERATED = ("Selon l'évaluation, la formation des magistrats à la traite des êtres humains reste insuffisante. "
             "Elle doit être renforcée. La CNCDH le recommande.")


def test_a_generated_answer_streams_into_its_pending_bubble(browser, own_server):
    """The server sends only the streamed text (#tqa-live), not the whole
    conversation at each piece; chat.js shows it in the pending bubble."""
    tab = Page(browser, own_server.url)
    try:
        tab.send("hébergement des victimes")  # a search answer: the generator writes it
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
    finally:
        tab.close()
