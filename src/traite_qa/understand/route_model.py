"""Three questions about a question, learned from the question bank (`make
train`, eval/train_route.py) instead of cue lists:

- its **route**: a list of measures on a topic, a request for a synthesis, or
  anything else (`route.json`). It replaced the cue lists `listing` and `broad`
  (87 lines of cues.yaml), which it beat on dev and on test;
- its **language**, French or English (`language.json`). It replaced two word
  lists, which it beat on dev and on test (docs/evaluation.md);
- whether, asked after other questions, it **leans on them** ("Et pour les
  mineurs ?") or stands alone (`followup.json`). It replaced an opener list
  and a word count, which it beat on dev and on test (understand/followup.py);
- whether it asks **where a measure stands** ("c'est considéré comme fait ?",
  "ça avance ou pas ?", "How does the evaluation grade …?") (`status.json`),
  for a measure it describes rather than numbers.

All four read the words and word pairs of the question, folded (tf-idf with
sublinear tf, as scikit-learn's TfidfVectorizer), then a logistic regression:
no encoder, so they cost microseconds and keep structured answers free of
the model at start-up. Explicit references ("mesure 16", "combien de
mesures", an axis) stay parsed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from ..text import fold

ROUTE_FILE, LANGUAGE_FILE, FOLLOWUP_FILE, STATUS_FILE = "route.json", "language.json", "followup.json", "status.json"
ROUTE_CLASSES = ("other", "synthesis", "topic_list")
FOLLOWUP_CLASSES = ("standalone", "followup")
STATUS_CLASSES = ("other", "status")
# A binary model is kept as two rows, the first all zeros: softmax(0, z) is sigmoid(z).
LANGUAGE_CLASSES = ("fr", "en")
_TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern


def terms(text: str) -> list[str]:
    """The words (two letters or more) and the pairs of neighbours, folded."""
    words = _TOKEN_RE.findall(fold(text))
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


class TextClassifier:
    """A linear model over tf-idf terms, read from its JSON file."""

    def __init__(self, meta: dict, classes: tuple[str, ...], name: str):
        if tuple(meta["classes"]) != classes:
            raise ValueError(f"{name} was trained for classes {meta['classes']}, not {classes}: run `make train`")
        self.vocabulary: dict[str, int] = meta["vocabulary"]
        self.idf = np.asarray(meta["idf"], dtype=np.float64)
        self.coef = np.asarray(meta["coef"], dtype=np.float64)
        self.intercept = np.asarray(meta["intercept"], dtype=np.float64)
        self.thresholds: dict[str, float] = meta.get("thresholds", {})
        if self.coef.shape != (len(classes), len(self.vocabulary)) or self.idf.shape != (len(self.vocabulary),):
            raise ValueError(f"{name} is inconsistent (coefficients against vocabulary): run `make train`")

    def vector(self, text: str) -> np.ndarray:
        counts: dict[int, int] = {}
        for term in terms(text):
            j = self.vocabulary.get(term)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        x = np.zeros(len(self.vocabulary))
        for j, n in counts.items():
            x[j] = (1.0 + math.log(n)) * self.idf[j]
        norm = np.linalg.norm(x)
        return x / norm if norm else x

    def probabilities(self, text: str) -> np.ndarray:
        z = self.coef @ self.vector(text) + self.intercept
        z = np.exp(z - z.max())
        return z / z.sum()


@lru_cache(maxsize=None)  # the four files, each read once
def bundled(name: str) -> TextClassifier:
    classes = {ROUTE_FILE: ROUTE_CLASSES, LANGUAGE_FILE: LANGUAGE_CLASSES, FOLLOWUP_FILE: FOLLOWUP_CLASSES,
               STATUS_FILE: STATUS_CLASSES}[name]
    path = resources.files("traite_qa").joinpath("data", "models", name)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, OSError) as err:
        raise FileNotFoundError(f"the model {path} is missing: run `make train`") from err
    return TextClassifier(meta, classes, name)


@dataclass(frozen=True)
class RouteGuess:
    topic_list: bool
    synthesis: bool


def guess_route(text: str) -> RouteGuess:
    model = bundled(ROUTE_FILE)
    p = model.probabilities(text)
    return RouteGuess(topic_list=bool(p[2] >= model.thresholds["topic_list"]),
                      synthesis=bool(p[1] >= model.thresholds["synthesis"]))


def english(text: str) -> bool:
    return bool(bundled(LANGUAGE_FILE).probabilities(text)[1] >= 0.5)


def leans_on_earlier_turns(text: str) -> bool:
    """Asked after other questions, does this one lean on them ("Et pour les
    mineurs ?", "Is that body still working on it today?")?"""
    model = bundled(FOLLOWUP_FILE)
    return bool(model.probabilities(text)[1] >= model.thresholds["followup"])


def asks_status(text: str) -> bool:
    """Does the question ask whether something was done, or where it stands?"""
    model = bundled(STATUS_FILE)
    return bool(model.probabilities(text)[1] >= model.thresholds["status"])
