"""The chat's HTML rendering, without a server: escaping, marker chips,
status badges, quote highlighting, footnotes, closest topics."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traite_qa.answer import MARKER_RE
from traite_qa_app import render

XSS = "<img src=x onerror=alert(1)>"
ALLOWED_TAGS = {
    "div", "p", "span", "button", "mark", "em", "sup", "small", "strong", "details", "summary", "ul", "li",
    "article", "header", "nav", "section", "h2", "h3", "a", "code", "table", "thead", "tbody", "tr", "th", "td",
    "fieldset", "legend", "label", "input", "textarea", "progress",
}


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    collector.close()
    return collector


def assert_inert(html: str) -> None:
    """Only our own tags, no event-handler attribute, no script URL."""
    for tag, attrs in parse(html).tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {html[:200]!r}"
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            if name == "href":
                assert value.startswith(("http://", "https://")), value


def citation(evaluation, number=16, **changes) -> dict:
    measure = evaluation.measure(number)
    text = measure.body
    first = text.split(". ")[0] + "."
    base = {
        "id": f"mesure-{number}",
        "kind": "measure",
        "measures": [number],
        "statuses": [measure.status.value],
        "footnote": None,
        "acronym": None,
        "title": measure.title,
        "status": measure.status.value,
        "axis": measure.axis,
        "action": measure.action,
        "header": f"Axe {measure.axis} › Action {measure.action} › Mesure {number} : {measure.title} [{measure.status.value}]",
        "text": text,
        "footnotes": list(measure.footnotes),
        "span": {"start": 0, "end": len(text)},
        "score": 1.0,
        "rank": 1,
        "pinned": True,
        "dense": 0.9,
        "lexical": 3.0,
        "marker": f"Mesure {number}",
        "quotes": [first],
    }
    base.update(changes)
    return base


def answer(text: str, citations: list[dict], status: str = "answered", **changes) -> dict:
    base = {
        "question": "q",
        "status": status,
        "answer": text,
        "citations": citations,
        "intent": "status",
        "language": "fr",
        "suggestions": [],
        "notes": [],
        "verified": True,
        "measures": {},
    }
    base.update(changes)
    return base


@pytest.fixture(scope="module")
def notes(evaluation):
    return {f.number: f for f in evaluation.footnotes}


# ------------------------------------------------------------- escaping
def test_user_question_is_escaped(evaluation):
    html = render.conversation_html([{"question": XSS, "answer": answer("Réponse.", [])}])
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert_inert(html)
    assert XSS in "".join(parse(html).text)  # shown as text, verbatim


def test_answer_and_passage_text_are_escaped(evaluation, notes):
    cit = citation(evaluation, text='Un <script>alert("x")</script> & "citation".', quotes=['<script>alert("x")</script>'])
    html = render.answer_html(answer('Voici <b>gras</b> & co [Mesure 16]', [cit]), 0)
    assert "<b>" not in html and "&lt;b&gt;gras&lt;/b&gt; &amp; co" in html
    card = render.citation_html(cit, 0, 0, notes, evaluation)
    assert "<script>" not in card
    assert '<mark class="tqa-quote">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</mark>' in card
    assert_inert(html + card)


def test_partial_streaming_text_is_escaped():
    html = render.conversation_html([{"question": "q", "answer": None, "partial": XSS + " [Mesure 16]"}])
    assert "<img" not in html
    assert_inert(html)


def test_attribute_values_cannot_break_out(evaluation):
    tricky = 'x" onmouseover="alert(1)'
    html = render.answer_html(answer("Texte", [], status="no_evidence", suggestions=[tricky]), 0)
    assert_inert(html)
    html = render.citation_html(citation(evaluation, marker=tricky, id=tricky), 0, 0)
    assert_inert(html)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200), st.text(max_size=60))
def test_any_text_renders_inert(text, quote):
    turn = {
        "question": text,
        "answer": answer(text + " [Mesure 1]", [
            {**{"id": "c", "kind": "measure", "measures": [1], "statuses": ["Réalisée"], "axis": 1, "action": 1,
                "title": text, "header": text, "text": text + quote, "footnotes": [1]}, "marker": "Mesure 1", "quotes": [quote]}
        ], suggestions=[text], notes=[text]),
    }
    html = render.conversation_html([turn]) + render.sources_html([turn])
    assert_inert(html)
    html = render.hits_html(text, [{"id": text, "kind": "measure", "statuses": [text], "header": text, "text": text, "rank": 1, "score": 0.5}])
    assert_inert(html)


# ------------------------------------------------------------- markers
@pytest.mark.parametrize(
    "marker", ["Mesure 16", "Mesure 14-15", "Note 47", "Sigle OCRTEH", "Tableau axe 3", "Préambule 4", "Bilan 2"]
)
def test_every_marker_kind_becomes_a_chip(marker):
    html = render.text_with_markers(f"Texte [{marker}].", {marker: "tqa-src-0-0"})
    assert f'<button type="button" class="tqa-marker" data-target="tqa-src-0-0" title="Afficher le passage cité">{marker}</button>' in html
    assert f"[{marker}]" not in html


def test_markers_point_to_their_own_cards(evaluation):
    cits = [citation(evaluation, 16), citation(evaluation, 17)]
    html = render.answer_html(answer("A [Mesure 16] B [Mesure 17] C [Note 99]", cits), 3)
    targets = re.findall(r'data-target="([^"]+)"', html)
    assert targets == ["tqa-src-3-0", "tqa-src-3-1"]
    assert '<span class="tqa-marker tqa-marker-orphan">Note 99</span>' in html  # no citation: no link
    sources = render.sources_html([{"question": "q", "answer": answer("x", cits)}] * 4, None, evaluation)
    for target in targets:
        assert f'id="{target}"' in sources


def test_marker_regex_is_the_librarys():
    assert MARKER_RE.pattern in render.MARKER_RE.pattern


# ------------------------------------------------------------- badges
@pytest.mark.parametrize(
    "label, slug",
    [
        ("Réalisée", "realisee"),
        ("Partiellement réalisée", "partiellement-realisee"),
        ("Non réalisée", "non-realisee"),
        (None, "inconnu"),
        ("Autre", "inconnu"),
    ],
)
def test_status_badge_classes(label, slug):
    html = render.status_badge(label)
    assert f'class="tqa-badge tqa-status-{slug}"' in html
    assert_inert(html)


def test_card_has_breadcrumb_title_and_badge(evaluation, notes):
    card = render.citation_html(citation(evaluation, 16), 0, 0, notes, evaluation)
    text = "".join(parse(card).text)
    assert "Axe 2 › Action 5 › Mesure 16" in text
    assert "Mesure 16 : Mettre en place un mécanisme national de référence" in text
    assert re.search(r'class="tqa-badge tqa-status-non-realisee"[^>]*>Non réalisée<', card)
    assert 'data-marker="Mesure 16"' in card


def test_grouped_measures_get_one_badge_each(evaluation):
    cit = citation(
        evaluation, 43, measures=[43, 45], statuses=["Non réalisée", "Réalisée"], marker="Mesure 43-45",
        title="Renforcer la formation des praticiens via les écoles de formation judiciaire ; Poursuivre les projets de coopération bilatérale",
    )
    card = render.citation_html(cit, 0, 0, None, evaluation)
    assert "tqa-status-non-realisee" in card and "tqa-status-realisee" in card
    assert "Mesures 43, 45" in card


# ------------------------------------------------------------ highlight
def test_quotes_are_highlighted_verbatim():
    text = "Première phrase. Deuxième phrase (12). Troisième."
    html = render.highlight(text, ["Deuxième phrase (12)."], footnotes=[12], note_ids={12: "n12"})
    assert html.startswith("Première phrase. <mark class=\"tqa-quote\">Deuxième phrase")
    assert '<button type="button" class="tqa-fnref" data-note="n12" title="Note 12">(12)</button>' in html
    assert html.endswith("</mark> Troisième.")


def test_overlapping_and_repeated_quotes_merge():
    text = "abc def ghi abc"
    html = render.highlight(text, ["abc def", "def ghi", "abc"])
    assert html == '<mark class="tqa-quote">abc def ghi</mark> <mark class="tqa-quote">abc</mark>'


def test_only_the_passages_own_footnotes_become_links():
    html = render.highlight("Loi (1989) et note (7) et (8).", [], footnotes=[7])
    assert "(1989)" in html and html.count("tqa-fnref") == 1 and "(8)" in html


def test_missing_quote_changes_nothing():
    assert render.highlight("a < b", ["absent"]) == "a &lt; b"


# ----------------------------------------------------------- footnotes
def test_passage_footnotes_are_expandable_with_their_text(evaluation, notes):
    cit = citation(evaluation, 16, footnotes=[30])
    card = render.citation_html(cit, 0, 0, notes, evaluation)
    assert '<details class="tqa-footnote" id="tqa-src-0-0-note-30">' in card
    assert "<summary>Note 30</summary>" in card
    assert render.e(evaluation.footnote(30).text) in card


def test_only_http_urls_become_links():
    class Note:
        text = "voir"
        urls = ("https://www.cncdh.fr/a", "javascript:alert(1)")

    html = render.footnote_html(1, Note(), "n1")
    assert 'href="https://www.cncdh.fr/a"' in html
    assert "javascript:" not in html
    assert_inert(html)


# ---------------------------------------------------- sources and turns
def test_only_the_latest_answer_sources_are_shown(evaluation):
    turns = [
        {"question": "a", "answer": answer("x [Mesure 16]", [citation(evaluation, 16)])},
        {"question": "b", "answer": answer("y [Mesure 17]", [citation(evaluation, 17)])},
    ]
    html = render.sources_html(turns, None, evaluation)
    assert '<section class="tqa-sources-turn" data-turn="0" hidden>' in html
    assert '<section class="tqa-sources-turn" data-turn="1">' in html


def test_no_evidence_is_kind_and_offers_topics():
    html = render.answer_html(
        answer(
            "Le document ne répond pas à cette question.",
            [],
            status="no_evidence",
            suggestions=["mesure 37 « Financer les mesures du plan »", "note 39", "sigle ASE"],
        ),
        0,
    )
    assert "Désolé" not in html  # the text says it once, not a sorry line before it
    assert html.count("ne répond pas") == 1
    questions = re.findall(r'data-question="([^"]+)"', html)
    assert questions == [
        "Que dit l&#x27;évaluation sur la mesure 37 ?",
        "Que dit la note 39 ?",
        "Que signifie le sigle ASE ?",
    ]


def test_english_no_evidence_is_in_english():
    html = render.answer_html(answer("The document does not answer this question.", [], status="no_evidence", language="en", suggestions=["note 3"]), 0)
    assert "Closest topics" in html and "Sujets proches" not in html


def test_copy_button_carries_the_plain_answer():
    html = render.turn_html({"question": "q", "answer": answer('Réponse "citée" [Mesure 16]', [])}, 0)
    assert 'data-text="Réponse &quot;citée&quot; [Mesure 16]"' in html


def test_empty_conversation_invites_a_question():
    assert "Posez une question" in render.conversation_html([])
    assert "Les passages cités" in render.sources_html([])


# ------------------------------------------------------------ dashboard
def test_measure_page_has_body_badge_and_footnotes(evaluation):
    measure = evaluation.measure(16)
    html = render.measure_html(measure, evaluation)
    assert "Mesure 16 : Mettre en place un mécanisme national de référence" in html
    assert "tqa-status-non-realisee" in html
    for number in measure.footnotes:
        assert f"<summary>Note {number}</summary>" in html
    assert_inert(html)


def test_shared_body_is_announced(evaluation):
    grouped = next(m for m in evaluation.measures if len(m.group) > 1)
    html = render.measure_html(grouped, evaluation)
    assert "Texte commun avec la mesure" in html


def test_status_summary_counts(evaluation):
    html = render.status_summary_html(evaluation)
    assert f"<strong>{len(evaluation.measures)}</strong> mesures" in html
    for status, count in evaluation.status_counts().items():
        assert f"{status.value}</span> <strong>{count}</strong>" in html


def test_hits_show_rank_and_scores():
    html = render.hits_html("q", [{"id": "mesure-16#1", "kind": "measure", "statuses": ["Non réalisée"], "header": "h", "text": "t", "rank": 1, "score": 1.0321, "dense": 0.89, "lexical": 2.5, "pinned": True}])
    assert "1." in html and "référence exacte" in html and "tqa-status-non-realisee" in html
    # The ranking figures are there for those who look, under "Détails techniques".
    details = html[html.index("Détails techniques"):]
    assert "1.0321" in details and "0.890" in details and "2.50" in details
    assert "Aucun résultat" in render.hits_html("<q>", [])
    assert "&lt;q&gt;" in render.hits_html("<q>", [])
