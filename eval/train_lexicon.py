"""The English -> French lexicon of the lexical search (search/expansion.py),
learned from the encoder instead of written by hand.

BM25 cannot match "children" with "mineurs": an English question's words need
the document's French words beside them. The hand table it replaced (`en_fr`
in data/expansion.yaml, 112 entries, at commit 54cb909) was written from the
document's domain terms. This one is the multilingual encoder's own view:
every common English word (wordfreq's 50,000 most frequent, not a word of the
document, not a stopword) is embedded alone, as is every word of the document,
and the word keeps its nearest document words above a cosine cut.

The cut and the number of words kept are chosen on train and dev together (the
lexicon fits nothing else, and dev alone has only 100 English questions) by
BM25's recall@5 of a gold passage for the English questions, a larger table
only for a gain of half a point; reported on test beside no expansion (`lexicon_dev`, `lexicon_test` in eval/out/train.json). The table is
computed once here and shipped as JSON, so every CPU expands a question alike.
French questions keep the hand table's `fr_fr` synonyms: the encoder's
neighbours lost to it on dev (BM25 recall@5 0.79 against 0.82).
"""

from __future__ import annotations

import re

import numpy as np

from . import bank

VOCABULARY = 50_000
CUTS = (0.94, 0.92, 0.90, 0.88, 0.86)
TOPS = (1, 2, 3)


def _words(text: str) -> set[str]:
    """Lower-case words of three letters or more."""
    return set(re.findall(r"[^\W\d_]{3,}", text.lower()))


def _document_words(text: str) -> list[str]:
    from traite_qa.text import fold, stopwords

    return sorted(w for w in _words(text) if fold(w) not in stopwords())


def _english_words(exclude: set[str]) -> list[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
    from wordfreq import top_n_list

    from traite_qa.text import fold

    folded = {fold(w) for w in exclude}
    return [w for w in top_n_list("en", VOCABULARY) if re.fullmatch(r"[a-z]{3,}", w)
            and w not in ENGLISH_STOP_WORDS and w not in folded]


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def neighbours(embedder, english: list[str], french: list[str], top: int) -> tuple[np.ndarray, np.ndarray]:
    """For each English word, its `top` nearest document words: (indices, cosines)."""
    f = _unit(np.asarray(embedder.embed_queries(french), dtype=np.float32))
    idx, sims = [], []
    for start in range(0, len(english), 2048):
        e = _unit(np.asarray(embedder.embed_queries(english[start:start + 2048]), dtype=np.float32))
        s = e @ f.T
        best = np.argsort(-s, axis=1, kind="stable")[:, :top]
        idx.append(best)
        sims.append(np.take_along_axis(s, best, axis=1))
    return np.vstack(idx), np.vstack(sims)


def table_for(english: list[str], french: list[str], idx: np.ndarray, sims: np.ndarray, cut: float, top: int) -> dict:
    out = {}
    for w, row, s in zip(english, idx, sims):
        kept = [french[j] for j, v in zip(row[:top], s[:top]) if v >= cut]
        if kept:
            out[w] = kept
    return out


def _recall(assistant, questions, expand, k: int = 5) -> dict:
    """BM25 alone: the share of English answerable questions with a gold passage in its top k."""
    data = assistant.searcher.data
    chunks = data.chunks
    hits, n = 0, 0
    for q in questions:
        if q.lang != "en" or not q.answerable or not q.gold_sentences:
            continue
        rows = {i for i, c in enumerate(chunks) for g in q.gold_sentences if g[:60] in c.body or c.body in g}
        if not rows:
            continue
        scores = data.lexical.scores(expand(q.question))
        top = set(np.argsort(-scores, kind="stable")[:k].tolist())
        hits += bool(rows & top)
        n += 1
    return {f"bm25_recall@{k}": round(hits / n, 3), "n": n}


def train_lexicon(assistant, splits: dict[str, list[bank.BankQuestion]]) -> tuple[dict, dict]:
    """(the lexicon's JSON, the report)."""
    from traite_qa.search.expansion import expand_with

    text = bank.source_text()
    french = _document_words(text)
    # Not a word the document has, stopwords included ("les", "des" are in wordfreq's English too).
    english = _english_words(_words(text))
    idx, sims = neighbours(assistant.searcher.embedder, english, french, max(TOPS))
    report, best = {"lexicon_vocabulary": {"english": len(english), "french": len(french)}}, None
    for cut in CUTS:
        for top in TOPS:
            table = table_for(english, french, idx, sims, cut, top)
            r = _recall(assistant, splits["train"] + splits["dev"], lambda text, t=table: expand_with(text, True, t))["bm25_recall@5"]
            print(f"lexicon cut={cut} top={top}: {len(table)} words, train+dev English BM25 recall@5 {r:.3f}", flush=True)
            if best is None or r > best[0] + 0.005:
                best = (r, cut, top, table)
    _, cut, top, table = best
    for name in ("train", "dev", "test"):
        report[f"lexicon_{name}"] = {
            "learned": _recall(assistant, splits[name], lambda text: expand_with(text, True, table)),
            "none": _recall(assistant, splits[name], lambda text: text),
        }
    meta = {"source": f"wordfreq top {VOCABULARY} English words x the document's words, nearest by the encoder",
            "cut": cut, "top": top, "words": dict(sorted(table.items()))}
    report["lexicon"] = {"cut": cut, "top": top, "words": len(table)}
    return meta, report
