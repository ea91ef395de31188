"""How an answer reads (issue 14), without a server: the direct sentence
first, quotes as a list with their chips, footnotes collapsed, closest topics
shown once, technical notes for people; both answer text formats (the
library's current one and the new light-Markdown one); annex 2 tables as
tables; the Markdown copied and exported; the conversation a browser sends
back after a reload; the search tab's warning."""

from __future__ import annotations

import json
import re
from html import unescape

from hypothesis import given, settings
from hypothesis import strategies as st

from traite_qa_app import chat, render
from test_ui_render import answer, assert_inert, citation, parse

NEW_STATUS = (
    "La mesure 16 « Mettre en place un mécanisme national de référence » (axe 2, action 5) est **non réalisée**.\n"
    "- « La mesure 16 est la mesure prioritaire qui, du point de vue de la CNCDH, n'a pourtant pas été mise en œuvre. » [Mesure 16]\n"
    "- « La diffusion d'une circulaire, non effective à ce jour, ne saurait remplacer un véritable mécanisme. » [Mesure 16]"
)
OLD_STATUS = (
    "La mesure 16 « Mettre en place un mécanisme national de référence » (axe 2, action 5) est Non réalisée. "
    "La CNCDH écrit : « La mesure 16 est la mesure prioritaire. » « La diffusion d'une circulaire ne saurait suffire. » [Mesure 16]"
)
OLD_SEARCH = (
    "D'après l'évaluation de la CNCDH :\n"
    "« Le deuxième plan fait l'objet de la présente évaluation (3). » [Préambule 4]\n"
    "  note 3 : « La présente évaluation se fonde sur des sources diverses : 28 associations (…). » [Note 3]\n"
    "« La CNCDH accueille avec enthousiasme l'octroi (4). » [Préambule 4]"
)


def visible_text(html: str) -> str:
    return "".join(parse(html).text)


def items(html: str) -> list[str]:
    return [unescape(re.sub(r"<[^>]+>", "", m)) for m in re.findall(r"<li>(.*?)</li>", html, re.S)]


# ------------------------------------------------------------ the layout
def test_new_format_direct_sentence_first_then_one_quote_per_line(evaluation):
    html = render.answer_html(answer(NEW_STATUS, [citation(evaluation, 16)]), 0)
    lead = re.search(r'<p class="tqa-lead">(.*?)</p>', html).group(1)
    assert "est <strong>non réalisée</strong>." in lead  # bold spans are bold, not stars
    quotes = items(html)
    assert len(quotes) == 2 and all(q.startswith("« ") and q.endswith("Mesure 16") for q in quotes)
    assert html.count('class="tqa-marker" data-target="tqa-src-0-0"') == 2  # each quote keeps its chip
    assert "**" not in html


def test_current_format_strung_quotes_become_a_list_each_with_its_chip(evaluation):
    html = render.answer_html(answer(OLD_STATUS, [citation(evaluation, 16)]), 0)
    lead = re.search(r'<p class="tqa-lead">(.*?)</p>', html).group(1)
    assert lead.endswith("La CNCDH écrit :") and "«" in lead  # the title stays in the sentence
    assert items(html) == ["« La mesure 16 est la mesure prioritaire. » Mesure 16",
                           "« La diffusion d'une circulaire ne saurait suffire. » Mesure 16"]


def test_current_format_inline_footnotes_are_collapsed_under_their_quote(evaluation):
    cits = [citation(evaluation, 16, marker="Préambule 4", kind="preamble"), citation(evaluation, 16, marker="Note 3", kind="footnote")]
    html = render.answer_html(answer(OLD_SEARCH, cits), 1)
    first = html[html.index("<li>"): html.index("</li>")]
    assert '<details class="tqa-fn"><summary>Note 3</summary>' in first  # collapsed, openable in place
    assert "<details class=\"tqa-fn\" open" not in html
    assert len(items(html)) == 2


def test_a_footnote_cited_without_quote_is_a_collapsed_link(evaluation):
    note = {**citation(evaluation, 16), "kind": "footnote", "footnote": 3, "marker": "Note 3", "quotes": [],
            "text": "La présente évaluation se fonde sur des sources diverses."}
    text = "Ce que ma recherche retient de l'évaluation de la CNCDH :\n- « Le deuxième plan fait l'objet de la présente évaluation. » [Préambule 4] [Note 3]"
    html = render.answer_html(answer(text, [citation(evaluation, 16, marker="Préambule 4"), note]), 0)
    assert '<details class="tqa-fn"><summary>Note 3</summary><div class="tqa-fn-text">La présente évaluation' in html
    assert ">Note 3</button>" not in html  # not a chip as well
    assert render.answer_markdown(answer(text, [note])).endswith("[Préambule 4] [Note 3]")  # the copy keeps the markers


def test_topic_list_items_keep_bold_status_and_chip(evaluation):
    text = ("Les mesures du plan que ma recherche classe en tête pour votre question, dans l'ordre :\n"
            "- **Mesure 26** « Créer des centres sécurisés » — partiellement réalisée : « Cette mesure a été réalisée. » [Mesure 26]")
    html = render.answer_html(answer(text, [citation(evaluation, 26)], intent="topic_list"), 0)
    assert "<li><strong>Mesure 26</strong> « Créer des centres sécurisés » — partiellement réalisée" in html
    assert 'data-target="tqa-src-0-0"' in html


def test_a_greeting_lists_questions_to_ask_in_one_click():
    text = "Bonjour ! Je réponds aux questions sur l'évaluation. Vous pouvez demander par exemple :\n- « Où en est la mesure 16 ? »\n- « Que signifie OCRTEH ? »"
    html = render.answer_html(answer(text, [], intent="greeting"), 0)
    assert re.findall(r'data-question="([^"]+)"', html) == ["Où en est la mesure 16 ?", "Que signifie OCRTEH ?"]
    assert visible_text(html).startswith("Bonjour !")


def test_no_evidence_lists_topics_once_and_keeps_debug_text_under_details():
    text = ("Le document ne répond pas à cette question. Sujets proches que vous pouvez interroger : "
            "mesure 6 « Introduire dans les programmes scolaires » ; note 39.")
    ans = answer(text, [], status="no_evidence", suggestions=["mesure 6 « Introduire dans les programmes scolaires »", "note 39"],
                 notes=["off-topic (best passage cosine 0.775 < 0.82)"])
    html = render.answer_html(ans, 0)
    shown = visible_text(html.split('<details class="tqa-notes">')[0])
    assert shown.count("Introduire dans les programmes scolaires") == 1  # the chip, not the sentence too
    assert "cosine" not in shown and "off-topic" not in shown
    details = html.split('<details class="tqa-notes">')[1]
    assert "<summary>Détails techniques</summary>" in details and "0,78" in details and "seuil 0,82" in details
    assert "cosine" not in details  # worded for people


def test_new_off_topic_note_is_worded_for_people():
    words = render.humane_note("off-topic: best passage cosine 0.819 (floor 0.836), 75% of the question's words absent from the document")
    assert "0,82" in words and "0,84" in words and "75 %" in words and "off-topic" not in words
    assert render.humane_note("something new").startswith("Note technique : ")


def test_filters_that_narrowed_the_answer_are_said(evaluation):
    turn = {"question": "q", "answer": answer(NEW_STATUS, [citation(evaluation, 16)]), "filters": {"axis": 2, "status": "non-realisee"}}
    html = render.turn_html(turn, 0)
    note = re.search(r'<p class="tqa-filters"[^>]*>(.*?)</p>', html).group(1)
    assert "axe 2" in note and "« non réalisée »" in note and "questions suivantes" in note
    english = render.turn_html({**turn, "answer": answer("x", [], language="en")}, 0)
    assert "Filters applied: axis 2, status « not implemented »" in english
    assert "tqa-filters" not in render.turn_html({"question": "q", "answer": answer("x", [])}, 0)


def test_feedback_widget_under_each_rateable_answer():
    html = render.turn_html({"question": "q", "answer": answer("x", [], answer_id="ans-0123456789abcdef0123")}, 4)
    assert 'data-answer-id="ans-0123456789abcdef0123"' in html
    assert 'data-rating="up"' in html and 'data-rating="down"' in html
    for code in ("mauvaise_mesure", "reponse_incomplete", "pas_de_reponse", "erreur_de_statut", "autre"):
        assert f'name="tqa-reason-4" value="{code}"' in html
    assert '<label class="tqa-fb-comment-label" for="tqa-fb-comment-4">' in html and 'id="tqa-fb-comment-4"' in html
    # No id, or an error bubble: nothing to rate.
    assert "tqa-feedback" not in render.turn_html({"question": "q", "answer": answer("x", [])}, 0)
    assert "tqa-feedback" not in render.turn_html({"question": "q", "answer": chat.error_answer("boom")}, 0)


# -------------------------------------------------------------- markdown
def test_copied_text_is_markdown_with_the_markers(evaluation):
    assert render.answer_markdown(answer(NEW_STATUS, [])) == NEW_STATUS  # the new format is already Markdown
    md = render.answer_markdown(answer(OLD_STATUS, []))
    assert md.splitlines()[1:] == ["- « La mesure 16 est la mesure prioritaire. » [Mesure 16]",
                                   "- « La diffusion d'une circulaire ne saurait suffire. » [Mesure 16]"]
    html = render.turn_html({"question": "q", "answer": answer(OLD_STATUS, [])}, 0)
    assert html.count('class="tqa-copy"') == 1  # one copy button per answer, none elsewhere


def test_export_has_question_answer_filters_and_sources(evaluation):
    turns = [{"question": "Où en est la mesure 16 ?", "answer": answer(NEW_STATUS, [citation(evaluation, 16)]),
              "filters": {"axis": 2}}]
    md = render.conversation_markdown(turns)
    assert md.startswith("# Conversation avec traite-qa")
    assert "## 1. Où en est la mesure 16 ?" in md and NEW_STATUS in md and "*Filtres appliqués : axe 2." in md
    source = md[md.index("Sources :"):]
    assert "- [Mesure 16] Axe 2 › Action 5 › Mesure 16" in source
    assert f"  > « {citation(evaluation, 16)['quotes'][0]} »" in source


# ----------------------------------------------------------------- tables
def test_table_source_is_a_small_table_with_the_answers_rows_highlighted(evaluation):
    text = ("36\n\n      Piloter le suivi\n\n      Partiellement réalisée\n\n      37\n\n      Financer les mesures du plan\n\n"
            "      Non réalisée\n\n      38\n\n      Evaluer la mise en œuvre de la politique publique\n\n      Réalisée")
    cit = {"id": "tableau-axe-5", "kind": "table", "marker": "Tableau axe 5", "text": text, "title": "Tableau",
           "header": "Annexe 2", "quotes": ["Evaluer la mise en œuvre de la politique publique"], "measures": [36, 37, 38]}
    turns = [{"question": "q", "answer": answer("3 mesures [Tableau axe 5]", [cit], measures={"37": "Non réalisée"})}]
    html = render.sources_html(turns, None, evaluation)
    rows = re.findall(r"<tr( class=\"tqa-row-hit\")?><td class=\"tqa-num\">(\d+)</td>", html)
    assert [(bool(hit), int(n)) for hit, n in rows] == [(False, 36), (True, 37), (True, 38)]  # named or quoted
    assert html.count("tqa-badge") == 3
    assert_inert(html)
    assert render.table_rows("not a table") is None


# ----------------------------------------------------- after a reload
def test_saved_turns_are_checked_before_rendering(evaluation):
    good = {"question": "Où en est la mesure 16 ?", "answer": answer(NEW_STATUS, [citation(evaluation, 16)]), "filters": {"axis": 2}}
    junk = [1, "x", {"question": 5, "answer": {}}, {"question": "q", "answer": "text"}, {"question": "x" * 3000, "answer": good["answer"]},
            {"question": "q", "answer": {"answer": "a", "citations": "no"}}]
    turns = chat.parse_saved(json.dumps(junk + [good]), max_turns=50, max_chars=2000)
    assert [t["question"] for t in turns] == [good["question"]]
    assert turns[0]["filters"] == {"axis": 2}
    assert chat.parse_saved("{not json", 50, 2000) == [] and chat.parse_saved(None, 50, 2000) == []
    # (60 turns are over RESTORE_MAX_BYTES: a larger byte cap, to see the turn cap)
    many = chat.parse_saved(json.dumps([good] * 60), max_turns=50, max_chars=2000, max_bytes=10**6)
    assert len(many) == 50


@settings(max_examples=100, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
                        ["question", "answer", "citations", "text", "quotes", "marker", "kind", "notes", "suggestions", "status",
                         "filters", "axis", "measures", "footnotes"]), inner, max_size=5), max_leaves=30))
def test_any_saved_conversation_renders_inert(data):
    turns = chat.parse_saved(json.dumps([data, {"question": "q", "answer": data}]), 50, 2000)
    html = render.conversation_html(turns) + render.sources_html(turns)
    assert_inert(html)


def test_record_carries_the_newest_turn_for_the_browser(evaluation):
    turn = {"question": "Où en est la mesure 16 ?", "answer": answer(NEW_STATUS, [citation(evaluation, 16)])}
    html = chat.record_html([turn, turn], turn)
    attrs = dict(parse(html).tags[0][1])
    assert attrs["data-count"] == "2" and attrs["data-nonce"] != dict(parse(chat.record_html([turn], turn)).tags[0][1])["data-nonce"]
    saved = json.loads(attrs["data-turn"])
    assert saved["answer"]["answer"] == NEW_STATUS and saved["markdown"].startswith("## 2. Où en est la mesure 16 ?")


def test_loading_progress_gives_an_estimate():
    html = chat.loading_html(3.0, 10.0)
    assert "environ 7 s" in html and 'value="0.30"' in html
    assert "encore quelques secondes" in chat.loading_html(12.0, 10.0)


# ------------------------------------------------------------------ search
def hit(rank, dense, lexical, pinned=False):
    return {"id": f"c{rank}", "kind": "preamble", "header": "h", "text": "t", "rank": rank, "score": 0.1,
            "dense": dense, "lexical": lexical, "pinned": pinned}


def test_weak_search_results_are_flagged():
    nonsense = [hit(1, 0.835, 0.0), hit(2, 0.83, 0.0)]
    assert "tqa-warning" in render.hits_html("recette de la tarte tatin", nonsense, floor=0.82)
    assert render.weak_results([hit(1, 0.80, 1.5)], 0.82)  # a word matches, but nothing is close
    assert not render.weak_results([hit(1, 0.88, 2.3)], 0.82)
    assert not render.weak_results([hit(1, 0.70, 0.0, pinned=True)], 0.82)  # an exact reference
    html = render.hits_html("q", [hit(1, 0.88, 2.3)], floor=0.82)
    assert "tqa-warning" not in html and "score" not in visible_text(html.split("Détails techniques")[0]).lower()


# ----------------------------------------------------- the operator's view
def test_retours_view_only_for_this_machine_or_the_token():
    from types import SimpleNamespace

    from traite_qa_app.handlers import operator_request

    def request(host, authorization=""):
        return SimpleNamespace(client=SimpleNamespace(host=host), headers={"authorization": authorization} if authorization else {})

    assert operator_request(request("127.0.0.1"), None) and operator_request(request("::1"), None)
    assert not operator_request(request("203.0.113.5"), None) and not operator_request(None, None)
    # With a token, the token decides (behind a proxy every client looks local).
    assert not operator_request(request("127.0.0.1"), "s3cret")
    assert operator_request(request("203.0.113.5", "Bearer s3cret"), "s3cret")
    assert not operator_request(request("203.0.113.5", "Bearer wrong"), "s3cret")


def test_session_html_is_one_byte_a_character_and_reads_the_same(evaluation):
    """Gradio keeps a session's last outputs: the chat's HTML is kept at one
    byte a character (the 👍/👎 and any quote's ’ or œ as references), with
    the same text once the browser decodes it (issue 23)."""
    from traite_qa_app.handlers import latin1

    turns = [{"question": "Où en est la mesure 16 ? 🙂", "answer": answer("L’œuvre… « x »", [citation(evaluation, 16)],
                                                                     answer_id="ans-0123456789abcdef0123")}]
    html = render.conversation_html(turns) + render.sources_html(turns)
    assert max(map(ord, html)) > 0xFFFF  # the emoji buttons: 4 bytes a character as it stands
    compact = latin1(html)
    assert max(map(ord, compact)) <= 0xFF and "&#128077;" in compact
    assert unescape(compact) == unescape(html)
    assert "€" not in latin1("5 € & <b>x</b>") and unescape(latin1("5 € & <b>x</b>")) == "5 € & <b>x</b>"
