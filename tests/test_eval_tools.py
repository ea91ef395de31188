"""The comparison and benchmark tools (`eval/compare.py`, `eval/baseline.py`,
`eval/bench.py`, `eval/scaling.py`): offset mapping, metric arithmetic and the
pipelines' output, with a hashing fake embedder (no real model)."""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest

# `eval/` is a top-level folder of the checkout, not an installed package:
# importable under `python -m pytest` (cwd on sys.path) but not under a bare `pytest`.
ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from eval import bench, compare, scaling  # noqa: E402
from eval.baseline import FixedSizeRecipe, StructureMap, overlaps, split_fixed  # noqa: E402
from eval.common import Question, load_questions  # noqa: E402
from traite_qa.index.embedder import BaseEmbedder  # noqa: E402
from traite_qa.text import fold  # noqa: E402


class HashEmbedder(BaseEmbedder):
    """Bag of hashed words -> normalised vector: deterministic, instant, no model."""

    name = "test-hash"

    def __init__(self, dim: int = 64):
        super().__init__(batch_size=64)
        self._dim = dim

    @property
    def dimension(self) -> int:
        return self._dim

    @property
    def fingerprint(self) -> str:
        return f"test-hash-{self._dim}"

    def _encode(self, texts, is_query, progress):
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w\w+", fold(text)):
                out[i, int(hashlib.md5(word.encode()).hexdigest()[:8], 16) % self._dim] += 1.0
            out[i, 0] += 1e-3  # never a zero vector
        return out


@pytest.fixture(scope="module")
def structure(evaluation, source) -> StructureMap:
    return StructureMap(evaluation, source)


def q(kind="status", measures=(), footnotes=(), acronyms=(), sections=(), text="?") -> Question:
    return Question(id=f"t-{kind}-{text}", kind=kind, question=text, gold_measures=tuple(measures),
                    gold_footnotes=tuple(footnotes), gold_acronyms=tuple(acronyms), gold_sections=tuple(sections))


def kinds(covers):
    return [c["kind"] for c in covers]


# ------------------------------------------------------------ offset mapping
def test_overlap_is_half_open():
    assert overlaps(0, 10, 9, 20)
    assert not overlaps(0, 10, 10, 20)
    assert not overlaps(10, 20, 0, 10)
    assert overlaps(5, 6, 0, 100)


def test_a_chunk_across_two_measures_covers_both(evaluation, structure):
    m1, m2 = evaluation.measure(1), evaluation.measure(2)
    start, end = m1.body_span.end - 40, m2.header_span.start + 10
    covers = structure.covers(start, end)
    assert covers == [{"kind": "measure", "measures": [1, 2], "footnote": None, "acronym": None}]
    hit = {"id": "x", **structure.describe(start, end)}
    assert hit["kind"] == "measure" and hit["measures"] == [1, 2]
    assert compare.hit_is_gold(q(measures=[2]), hit)
    assert compare.hit_is_gold(q(measures=[1]), hit)
    assert not compare.hit_is_gold(q(measures=[3]), hit)


def test_a_chunk_ending_where_the_next_header_starts_does_not_cover_it(evaluation, structure):
    m1, m2 = evaluation.measure(1), evaluation.measure(2)
    covers = structure.covers(m1.body_span.end - 40, m2.header_span.start)
    assert covers[0]["measures"] == [1]


def test_a_header_alone_is_its_measure(evaluation, structure):
    m = evaluation.measure(7)
    assert structure.covers(m.header_span.start, m.header_span.start + 5)[0]["measures"] == [7]


def test_a_body_shared_by_grouped_measures_covers_every_member(evaluation, structure):
    m = evaluation.measure(20)
    assert set(m.group) == {20, 21}
    covers = structure.covers(m.body_span.start + 10, m.body_span.start + 200)
    assert covers[0]["kind"] == "measure" and covers[0]["measures"] == [20, 21]


def test_a_footnote_chunk(evaluation, structure):
    note = evaluation.footnote(5)
    covers = structure.covers(note.span.start + 3, note.span.end - 3)
    assert covers == [{"kind": "footnote", "measures": [], "footnote": 5, "acronym": None}]
    hit = structure.describe(note.span.start + 3, note.span.end - 3)
    assert hit["kind"] == "footnote" and hit["footnote"] == 5
    assert compare.hit_is_gold(q("footnote", footnotes=[5]), hit)
    assert not compare.hit_is_gold(q("footnote", footnotes=[6]), hit)
    # Spanning two notes covers both.
    six = evaluation.footnote(6)
    assert [c["footnote"] for c in structure.covers(note.span.end - 5, six.span.start + 5)] == [5, 6]


def test_glossary_lines(evaluation, structure):
    a, b = evaluation.acronyms[0], evaluation.acronyms[1]
    covers = structure.covers(a.span.start + 2, b.span.start + 3)
    assert kinds(covers) == ["acronym", "acronym"]
    assert [c["acronym"] for c in covers] == [a.acronym, b.acronym]
    hit = structure.describe(a.span.start + 2, b.span.start + 3)
    assert compare.hit_is_gold(q("acronym", acronyms=[b.acronym]), hit)
    assert not compare.hit_is_gold(q("acronym", acronyms=[evaluation.acronyms[5].acronym]), hit)


def test_annex_2_rows_are_the_table_with_their_measures(evaluation, source, structure):
    row = next(r for r in structure.regions if r.kind == "table" and r.measures == (1,))
    assert "Informer et sensibiliser" in source[row.start : row.end]
    assert source[row.start : row.end].rstrip().endswith("Partiellement réalisée")
    hit = structure.describe(row.start, row.end)
    assert hit["covers"] == [{"kind": "table", "measures": [1], "footnote": None, "acronym": None}]
    assert compare.hit_is_gold(q("aggregate", sections=["tableau"]), hit)
    assert compare.hit_is_gold(q("aggregate", measures=[1]), hit)
    assert not compare.hit_is_gold(q("status", measures=[1]), hit)  # is_gold: table rows count for aggregates only
    assert sorted(m for r in structure.regions if r.kind == "table" for m in r.measures) == list(range(1, 46))


def test_preamble_conclusion_and_uncovered_text(evaluation, structure):
    p = evaluation.preamble[0].span
    hit = structure.describe(p.start, p.end)
    assert kinds(hit["covers"]) == ["preamble"]
    assert compare.hit_is_gold(q("fact", sections=["preambule"]), hit)
    assert not compare.hit_is_gold(q("fact", sections=["bilan"]), hit)
    c = evaluation.conclusion[-1].span
    assert compare.hit_is_gold(q("fact", sections=["bilan"]), structure.describe(c.start, c.end))
    title = structure.describe(0, 40)  # the document's title line: nothing of the structure
    assert title["kind"] == "other" and title["covers"] == []
    assert not compare.hit_is_gold(q(measures=[1], footnotes=[1], sections=["preambule"]), title)


def test_split_fixed_offsets_are_verbatim(source):
    pieces = split_fixed(source, 1000, 200)
    assert len(pieces) > 100
    for start, end, text in pieces:
        assert source[start:end] == text and 0 < len(text) <= 1000
    assert [s for s, _, _ in pieces] == sorted(s for s, _, _ in pieces)


def test_split_fixed_with_repeated_text():
    text = ("même paragraphe répété.\n\n" * 300) + "fin"
    pieces = split_fixed(text, 100, 30)
    assert all(text[s:e] == t for s, e, t in pieces)
    assert pieces[-1][1] == len(text)
    assert [s for s, _, _ in pieces] == sorted({s for s, _, _ in pieces})  # strictly increasing: no piece mapped twice


# ------------------------------------------------------------ metric arithmetic
def _hit(kind="measure", measures=(), footnote=None, acronym=None):
    return compare._with_covers({"id": "h", "kind": kind, "measures": list(measures), "footnote": footnote, "acronym": acronym})


def test_gold_rank():
    question = q(measures=[3])
    hits = [_hit(measures=[1]), _hit("footnote", footnote=3), _hit(measures=[2, 3])]
    assert compare.gold_rank(question, hits) == 3
    assert compare.gold_rank(question, hits[:2]) is None
    assert compare.gold_rank(question, []) is None
    multi = {"kind": "footnote", "footnote": 9, "covers": [{"kind": "footnote", "footnote": 9}, {"kind": "measure", "measures": [3]}]}
    assert compare.gold_rank(question, [multi]) == 1


def test_evaluate_recall_and_mrr_arithmetic():
    questions = [q("status", measures=[1], text="a"), q("footnote", footnotes=[2], text="b"),
                 q("acronym", acronyms=["ASE"], text="c"), q("unanswerable", text="d")]
    answers = {
        "a": [_hit(measures=[1])],  # rank 1
        "b": [_hit(measures=[4]), _hit("footnote", footnote=2)],  # rank 2
        "c": [_hit("acronym", acronym="UE")] * 6 + [_hit("acronym", acronym="ASE")],  # rank 7: outside the top 5
    }
    result = compare.evaluate(questions, {"p": lambda query, k: answers[query][:k]}, warm_up=False)
    table = compare.summary_table(result["scores"])["p"]
    overall = table["overall"]
    assert overall["n"] == 3  # no gold, not scored
    assert overall["recall@1"] == pytest.approx(1 / 3)
    assert overall["recall@5"] == pytest.approx(2 / 3)
    assert overall["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 7) / 3)
    assert table["footnote"]["mrr"] == pytest.approx(0.5) and table["acronym"]["recall@5"] == 0
    assert result["ranks"] == {"t-status-a": {"p": 1}, "t-footnote-b": {"p": 2}, "t-acronym-c": {"p": 7}}
    assert overall["mean_ms"] >= 0 and overall["p50_ms"] >= 0
    lines = compare.render({"p": table, "r": table})
    assert lines[0].startswith("| pipeline |") and any(line.startswith("| overall | 3 |") for line in lines)
    assert "**0.333**" in "\n".join(lines)  # ties are all bold


def test_parse_chunk_sizes():
    assert compare.parse_chunk_sizes("800, 1600:200") == [(800, 100), (1600, 200)]
    with pytest.raises(ValueError):
        compare.parse_chunk_sizes(",")


def test_bench_helpers():
    questions = load_questions()
    sample = bench.sample_questions(questions, 50)
    assert len(sample) == 50 and len({x.retrieval_query for x in sample}) == 50
    assert sample[0] is questions[0] and {x.kind for x in sample} == {x.kind for x in questions}
    assert len(bench.sample_questions(questions[:3], 10)) == 3
    stats = bench.percentiles([0.001, 0.002, 0.003, 0.004, 0.100])
    assert stats["p50_ms"] == pytest.approx(3.0) and stats["max_ms"] == pytest.approx(100.0)
    assert bench.ratio(3.0, 2.0) == 1.5 and bench.ratio(1.0, 0) is None
    assert bench.verdict(1.2, 1.3) == "ok" and bench.verdict(1.4, 1.3) == "MISSED"
    lines = bench.fmt_table([("a", "1 ms", "x"), ("longer", "10.5 ms", "")])
    assert lines[0].index("1 ms") + 4 == lines[1].index("10.5 ms") + 7  # values right-aligned
    report = {"questions": 2, "latency": {k: bench.percentiles([0.01, 0.02]) for k in ("encode", "search", "ask", "recipe_search")},
              "recall": {"ours": {"n": 2, "recall@1": 1.0, "recall@5": 1.0, "mrr": 1.0}}, "rss_kb": {"self": 2048}}
    text = "\n".join(bench.fmt_table(bench.table_rows(report)) + bench.side_by_side(report))
    assert "p50 / encode p50 = 1.00" in text and "2 MB" in text


def test_time_first_line_measures_the_command_not_us():
    run = bench.time_first_line([sys.executable, "-S", "-c", "print('first'); print('second')"], {})
    assert run["first_line"] == "first" and run["lines"] == 2 and run["returncode"] == 0
    assert 0 < run["first_line_s"] <= run["exit_s"]
    assert run["maxrss_kb"] and run["maxrss_kb"] < 200_000  # not this process's high-water mark


# ------------------------------------------------------------ scaling
def test_scaling_small_run():
    vectors = scaling.synthetic(300, 16, "gaussian")
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    centres = scaling.make_centres(300, 16)
    assert np.allclose(np.linalg.norm(scaling.synthetic(50, 16, "clustered", centres=centres), axis=1), 1, atol=1e-5)
    assert scaling.recall_at_k(np.array([[1, 2, 3], [4, 5, 6]]), np.array([[3, 2, 9], [4, 5, 6]])) == pytest.approx((2 / 3 + 1) / 2)
    row = scaling.run_size(500, dim=16, queries=5, log=None, threads=(1,))
    assert row["n"] == 500 and 0 <= row["hnsw"]["recall@10"] <= 1
    assert row["flat"]["p50_ms"] > 0 and row["hnsw"]["build_seconds"] >= 0
    assert scaling.render([row])[2].startswith("| 500 |")


# ------------------------------------------------------------ pipelines
@pytest.fixture(scope="module")
def fake_setup(tmp_path_factory, settings, source, evaluation):
    from traite_qa.index import build_index
    from traite_qa.search import Searcher

    tmp = tmp_path_factory.mktemp("eval-tools")
    embedder = HashEmbedder()
    fake = settings.with_(index_dir=tmp / "index" / "build", model_cache=tmp / "models")
    build_index(fake, force=True, embedder=embedder)
    searcher = Searcher.load(settings=fake, embedder=embedder)
    recipe = FixedSizeRecipe.build(source, evaluation, embedder)
    return searcher, recipe, tmp


def test_every_pipeline_returns_ranked_dicts_is_gold_can_read(fake_setup):
    searcher, recipe, _ = fake_setup
    pipelines = compare.make_pipelines(searcher, recipe)
    assert set(pipelines) == {"hybrid", "dense", "bm25", "recipe"}
    for query in ("Où en est la mesure 16 ?", "Que signifie le sigle ASE ?", "mécanisme national de référence"):
        for name, run in pipelines.items():
            hits = run(query, 10)
            assert 0 < len(hits) <= 10, name
            assert [h["rank"] for h in hits] == list(range(1, len(hits) + 1)), name
            for h in hits:
                assert {"kind", "measures", "footnote", "acronym", "covers", "id"} <= set(h), name
                assert all({"kind", "measures", "footnote", "acronym"} <= set(c) for c in h["covers"]), name
                compare.hit_is_gold(q(measures=[16]), h)
    # Scores in order for the pipelines that rank by one score.
    for name in ("dense", "bm25", "recipe"):
        scores = [h["score"] for h in pipelines[name]("sigle ASE aide sociale", 10)]
        assert scores == sorted(scores, reverse=True), name
    # The hybrid pins an exact reference; dense alone does not have to.
    assert pipelines["hybrid"]("Où en est la mesure 16 ?", 5)[0]["measures"] == [16]


def test_evaluate_runs_all_pipelines_on_real_questions(fake_setup):
    searcher, recipe, _ = fake_setup
    questions = [x for x in load_questions() if x.has_gold][:12]
    result = compare.evaluate(questions, compare.make_pipelines(searcher, recipe))
    table = compare.summary_table(result["scores"])
    assert {name: table[name]["overall"]["n"] for name in table} == dict.fromkeys(compare.LABELS, 12)


def test_recipe_cache_and_stats(fake_setup, source, evaluation):
    _, _, tmp = fake_setup
    embedder = HashEmbedder()
    first = FixedSizeRecipe.build(source, evaluation, embedder, cache_dir=tmp / "recipe-cache")
    again = FixedSizeRecipe.build(source, evaluation, embedder, cache_dir=tmp / "recipe-cache")
    assert first.build_stats["embedded"] == first.build_stats["chunks"] > 100
    assert again.build_stats["embedded"] == 0 and again.build_stats["cached"] == first.build_stats["chunks"]
    assert np.allclose(first.index.reconstruct(3), again.index.reconstruct(3))


def test_sweep_and_chunk_size_runs(fake_setup):
    searcher, _, _ = fake_setup
    questions = [x for x in load_questions() if x.has_gold][:6]
    s = searcher.settings.tuning  # the grid holds the current setting once
    rows = compare.sweep(searcher, questions, rrf_ks=(s.rrf_k, s.rrf_k + 40),
                         weights=((s.dense_weight, s.lexical_weight), (s.dense_weight + 0.25, s.lexical_weight)))
    assert len(rows) == 4 and sum(r["current"] for r in rows) == 1
    assert all(r["n"] == 6 for r in rows)
    assert [r["recall@1"] for r in rows] == sorted((r["recall@1"] for r in rows), reverse=True)
    sized = compare.chunk_size_runs(searcher, questions, [(800, 100)])
    assert sized[0]["chunk_size"] == 800 and sized[0]["n"] == 6 and sized[0]["chunks"] >= len(searcher.chunks)
