"""Learned parts of the answer: a sentence ranker and an answerability model.

Both are trained by `make train` (eval/train.py) on the blind question bank's
train split, with their settings chosen on dev; their files live in
`traite_qa/data/models/` (text and JSON, never pickle) with the bank's hash.

- The **sentence ranker** (LightGBM LambdaMART) scores every indexed sentence
  of the document for a question, from features the pipeline already has:
  sentence and passage cosines, BM25, fused and per-list ranks, word and
  number overlap, the value kind asked and held, the passage's kind and
  status. It replaces the hand-weighted evidence score.
- The **query adapter** (a 384x384 linear map of the question's e5 vector,
  trained contrastively on (question, gold sentence) pairs, as in LlamaIndex's
  linear adapter fine-tuning) moves questions towards the sentences that
  answer them; its cosines are four more ranker features. The document's
  vectors are left as they are, so plain search and exports are unchanged.
- The **answerability model** (multinomial logistic regression) reads the
  ranking's shape (best score, gap, cosines, share of the question's words the
  document lacks, ...) and gives P(answerable), P(near-domain unanswerable),
  P(off-topic). Refusal thresholds per language are chosen on dev so that
  answerable questions are refused at most 3% of the time.
"""

from __future__ import annotations

import io
import json
import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from ..index import IndexData
from ..search import ranks
from ..types import Query
from .features import ANSWERABILITY_SHAPE, FEATURES, VocabularyGap

CLASSES = ("answerable", "unanswerable", "offtopic")
ADAPTED = ("a_cos", "a_cos_gap", "a_cos_rank", "a_passage")
RANKER_FEATURES = FEATURES + ADAPTED
# What the best three sentences hold of the question (its words in their
# passage and heading, its numbers) and how close the adapted question comes
# to any sentence: a near-domain question ("the OCRTEH's address") finds its
# subject but not what it asks. At the same answerable refusals, near-domain
# refusals went from 0.371 to 0.416 (dev) and 0.391 to 0.414 (test)
# (`answerability_dev`, `answerability_test` in eval/out/train.json).
ANSWERABILITY_EVIDENCE = ("top3_lex_p", "top3_num_overlap", "top3_lex_header", "max_a_cos", "top_a_cos",
                          "a_cos_gap", "third")
ANSWERABILITY = ANSWERABILITY_SHAPE + ANSWERABILITY_EVIDENCE

# ------------------------------------------------------------------ models
@dataclass(frozen=True)
class ModelFiles:
    """What `make train` wrote: the ranker's text model and the JSON settings."""

    ranker_text: str
    meta: dict
    adapter: np.ndarray | None = None

    @classmethod
    @lru_cache(maxsize=1)
    def bundled(cls) -> "ModelFiles | None":
        base = resources.files("traite_qa").joinpath("data", "models")
        try:
            meta = json.loads(base.joinpath("models.json").read_text(encoding="utf-8"))
            ranker = base.joinpath("sentence_ranker.txt").read_text(encoding="utf-8")
            adapter = np.load(io.BytesIO(base.joinpath("query_adapter.npy").read_bytes()), allow_pickle=False)
        except (FileNotFoundError, OSError):
            return None
        return cls(ranker, meta, adapter)


class QueryAdapter:
    """The question's vector mapped by the trained matrix: v @ W, renormalised."""

    def __init__(self, matrix: np.ndarray):
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
            raise ValueError("query_adapter.npy is not a square matrix: run `make train`")
        self.matrix = matrix.astype(np.float32)

    def columns(self, data: IndexData, vector: np.ndarray) -> np.ndarray:
        """ADAPTED for every indexed sentence: its adapted cosine, the gap to the
        best, its rank, and the best adapted cosine of its passage."""
        adapted = vector.astype(np.float32) @ self.matrix
        adapted /= float(np.linalg.norm(adapted)) or 1.0
        t = data.sentences
        cos = t.vectors @ adapted
        best = np.full(len(data.chunks), -1.0, np.float32)
        np.maximum.at(best, t.rows, cos)
        return np.column_stack([cos, cos - cos.max(), np.log1p(ranks(cos)), best[t.rows]]).astype(np.float32)


class SentenceRanker:
    def __init__(self, files: ModelFiles):
        self._text = files.ranker_text
        self._booster = None
        self._lock = threading.Lock()
        names = files.meta["ranker"]["features"]
        if tuple(names) != RANKER_FEATURES:
            raise ValueError("the sentence ranker was trained on other features: run `make train`")

    def load(self) -> None:
        """Read the model now. Importing LightGBM takes ~1 s (it imports
        scikit-learn, SciPy and pandas when installed), so it happens on the
        first retrieval answer or warm-up, not when the Assistant is built: a
        cold start's first structured answer (a status, an acronym) comes sooner."""
        with self._lock:
            self._loaded()

    def _loaded(self):
        if self._booster is None:
            import lightgbm

            self._booster = lightgbm.Booster(model_str=self._text)
        return self._booster

    def scores(self, features: np.ndarray) -> np.ndarray:
        # One prediction at a time: a LightGBM Booster shared by the chat's
        # worker threads gave answers that differed from the same question
        # asked alone (tests/test_load.py).
        with self._lock:
            return self._loaded().predict(features, num_threads=1)


class Answerability:
    """P(answerable), P(unanswerable), P(off-topic): a softmax over standardised features."""

    def __init__(self, meta: dict):
        m = meta["answerability"]
        if tuple(m["features"][: len(ANSWERABILITY)]) != ANSWERABILITY:
            raise ValueError("the answerability model was trained on other features: run `make train`")
        self.mean = np.array(m["mean"], np.float64)
        self.scale = np.array(m["scale"], np.float64)
        self.coef = np.array(m["coef"], np.float64)
        self.intercept = np.array(m["intercept"], np.float64)
        if self.coef.shape[1] != len(ANSWERABILITY) + m.get("dimension", -1):
            raise ValueError("the answerability model does not match its features: run `make train`")
        self.thresholds = m["thresholds"]  # per language: P(answerable) below this is refused
        self.offtopic_threshold = float(m.get("offtopic_threshold", 1.0))  # P(off-topic) at or above: refused

    def probabilities(self, x: np.ndarray) -> dict[str, float]:
        z = self.coef @ ((x - self.mean) / self.scale) + self.intercept
        z = np.exp(z - z.max())
        p = z / z.sum()
        return dict(zip(CLASSES, map(float, p)))


def answerability_features(query: Query, features: np.ndarray, scores: np.ndarray, gap: VocabularyGap,
                           max_bm25: float, query_vector: np.ndarray) -> np.ndarray:
    """The ranking's shape, then the question's e5 vector: what kind of thing is
    asked (an address, a budget for 2024, a recipe) is what tells most questions
    the document cannot answer from those it can (dev AUC 0.78 with the shape
    alone, 0.93 with the vector; the vector's product with the best sentence's
    added nothing: `python -m eval.train`, README)."""
    return np.concatenate([_shape(query, features, scores, gap, max_bm25), _evidence(features, scores), query_vector])


def _evidence(features: np.ndarray, scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    top3 = order[:3]
    col = RANKER_FEATURES.index
    a_cos = features[:, col("a_cos")]
    best = np.sort(a_cos)[-2:] if len(a_cos) > 1 else np.repeat(a_cos, 2)
    return np.array([
        features[top3, col("lex_p")].max(), features[top3, col("num_overlap")].max(),
        features[top3, col("lex_header")].max(), best[-1], a_cos[order[0]], best[-1] - best[0],
        scores[order[min(2, len(order) - 1)]],
    ], np.float64)


def _shape(query, features, scores, gap: VocabularyGap, max_bm25) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    top, second = scores[order[0]], scores[order[1]] if len(order) > 1 else scores[order[0]]
    f = features[order[0]]
    col = FEATURES.index
    s_cos = features[:, col("s_cos")]
    return np.array([
        top, second, top - second, f[col("s_cos")], features[:, col("p_dense")].max(),
        math.log1p(max_bm25), f[col("lex_s")], f[col("lex_p")],
        gap.absent_share, gap.n_content, float(query.english), float(bool(query.answer_type)),
        f[col("type_ok")], f[col("k_footnote")], float(np.mean(scores[order[:5]])),
        float(s_cos.max() - np.median(s_cos)), float(features[order[:3], col("lex_s")].max()),
        float(features[order[:3], col("type_ok")].max()), gap.n_absent, float(gap.year_absent),
    ], np.float64)


class Logistic:
    """P(yes) of a binary logistic regression that `make train` stored in
    models.json under `key`, over standardised features; `threshold` is its
    cut, chosen on dev."""

    key = ""

    def __init__(self, meta: dict, names: tuple[str, ...]):
        m = meta[self.key]
        if tuple(m["features"]) != tuple(names):
            raise ValueError(f"the {self.key} model was trained on other features: run `make train`")
        self.mean, self.scale = np.array(m["mean"]), np.array(m["scale"])
        self.coef, self.intercept = np.array(m["coef"]), float(m["intercept"])
        self.threshold = float(m["threshold"])

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        z = ((x - self.mean) / self.scale) @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


class TopicModel(Logistic):
    """P(a measure belongs to a topic list), over the topic votes and the
    sentence ranking (topics.TOPIC_FEATURES); cut for the best mean F1 of the lists."""

    key = "topics"


class ScopeModel(Logistic):
    """P(the list asked for is this whole part of the plan), over scopes.SCOPE_FEATURES."""

    key = "scopes"
