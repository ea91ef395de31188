"""`make train`: the learned parts, trained on the bank's train split, their
settings chosen on dev, reported on test (aggregates only).

    python -m eval.train            # writes src/traite_qa/data/models/ (sentence_ranker.txt, models.json)
    python -m eval.train --check    # retrains in memory and compares with the shipped files

Deterministic: LightGBM with one thread, a fixed seed and deterministic=True;
scikit-learn's lbfgs logistic regression; the bank's sha256 is recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import astuple
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import bank

MODELS = Path(__file__).resolve().parents[1] / "src" / "traite_qa" / "data" / "models"
SEED = 7
MAX_REFUSED = 0.03  # answerable questions refused, at most, on dev (per language)
ROUNDS = (50, 100, 200, 300, 500)
RANKER_PARAMS = {
    "objective": "lambdarank", "metric": "ndcg", "eval_at": [1, 3], "learning_rate": 0.05, "num_leaves": 15,
    "min_data_in_leaf": 20, "feature_fraction": 0.8, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
    "deterministic": True, "num_threads": 1, "seed": SEED, "verbose": -1, "force_row_wise": True,
    "lambdarank_truncation_level": 20,
}


@dataclass
class Item:
    question: bank.BankQuestion
    features: np.ndarray  # (sentences, FEATURES)
    labels: np.ndarray  # 1 where the sentence overlaps a gold sentence
    gap: tuple  # VocabularyGap's fields
    max_bm25: float
    vector: np.ndarray  # the question's e5 vector


def bank_hash() -> str:
    return hashlib.sha256(bank.BANK.read_bytes()).hexdigest()


def featurize(assistant, questions: list[bank.BankQuestion]) -> list[Item]:
    """Each question as the assistant reads it (follow-ups after their earlier turns)."""
    retrieval = assistant.retrieval
    data = assistant.searcher.data
    t = data.sentences
    spans = np.array([(data.chunks[r].span.start + s, data.chunks[r].span.start + e)
                      for r, s, e in zip(t.rows, t.starts, t.ends)])
    items = []
    for q in questions:
        history = _history(assistant, q)
        query = assistant.understand(q.question, history)
        x, hits = retrieval.learned_features(query)
        labels = np.zeros(len(x), np.float32)
        for gs, ge in bank.gold_spans(q.gold_sentences):
            overlap = np.minimum(spans[:, 1], ge) - np.maximum(spans[:, 0], gs)
            length = spans[:, 1] - spans[:, 0]
            labels[(overlap * 2 >= length) | (overlap * 2 >= ge - gs)] = 1
        gap = retrieval.vocabulary_gap(query)
        items.append(Item(q, x, labels, astuple(gap), max((h.lexical for h in hits), default=0.0),
                          assistant.searcher.query_vector(query)))
    return items


def featurize_cached(assistant, questions: list[bank.BankQuestion], cache: Path) -> list[Item]:
    """featurize(), kept in eval/out/ (numpy arrays, no pickle) keyed by the bank, the code and the index."""
    key = hashlib.sha256("\n".join([bank_hash(), _code_hash(), assistant.searcher.data.manifest_sha() if hasattr(
        assistant.searcher.data, "manifest_sha") else str(assistant.searcher.data.sentences.vectors.sum()),
        *[q.id for q in questions]]).encode()).hexdigest()[:16]
    path = cache.with_name(f"{cache.stem}-{key}.npz")
    if path.exists():
        z = np.load(path)
        return [Item(q, z[f"x{i}"], z[f"y{i}"], tuple(z["gap"][i].tolist()), float(z["bm25"][i]),
                     z["vectors"][i]) for i, q in enumerate(questions)]
    items = featurize(assistant, questions)
    arrays = {f"x{i}": it.features for i, it in enumerate(items)} | {f"y{i}": it.labels for i, it in enumerate(items)}
    np.savez_compressed(path, gap=np.array([it.gap for it in items], dtype=np.float64),
                        bm25=np.array([it.max_bm25 for it in items]),
                        vectors=np.array([it.vector for it in items]), **arrays)
    return items


def _code_hash() -> str:
    base = Path(__file__).resolve().parents[1] / "src" / "traite_qa"
    parts = [p.read_bytes() for p in sorted(base.rglob("*.py")) + sorted((base / "data").glob("*.yaml"))
             if "models" not in p.parts]
    return hashlib.sha256(b"".join(parts)).hexdigest()


def _history(assistant, q: bank.BankQuestion) -> list[dict] | None:
    history: list[dict] = []
    for turn in q.history:
        previous = assistant.ask(turn, history or None)
        history += [{"role": "user", "content": turn},
                    {"role": "assistant", "content": previous.answer, "measures": dict(previous.measures)}]
    return history or None


def ranker_data(items: list[Item]):
    """Per question: its gold sentences, the 60 closest by cosine, the 60 of the
    best fused passages, and 30 others at random (seeded). LambdaMART learns the
    top of the list; the far tail adds rows, not signal (~5x faster to train)."""
    from traite_qa.answer.learned import FEATURES

    rng = np.random.default_rng(SEED)
    xs, ys, groups = [], [], []
    for it in items:
        if not (it.question.answerable and it.labels.any()):
            continue
        n = len(it.features)
        keep = set(np.flatnonzero(it.labels)) | set(np.argsort(-it.features[:, FEATURES.index("s_cos")], kind="stable")[:60])
        keep |= set(np.argsort(it.features[:, FEATURES.index("p_fused_rank")], kind="stable")[:60])
        keep |= set(rng.choice(n, size=min(30, n), replace=False))
        rows = np.array(sorted(keep))
        xs.append(it.features[rows])
        ys.append(it.labels[rows])
        groups.append(len(rows))
    return np.vstack(xs), np.concatenate(ys), groups


def train_ranker(train: list[Item], rounds: int):
    import lightgbm

    x, y, groups = ranker_data(train)
    dataset = lightgbm.Dataset(x, y, group=groups, feature_name=list(_features()), free_raw_data=False)
    return lightgbm.train(RANKER_PARAMS, dataset, num_boost_round=rounds)


def _features():
    from traite_qa.answer.learned import FEATURES

    return FEATURES


def recall_at(items: list[Item], scores: list[np.ndarray], k: int) -> float:
    rows = [(it, s) for it, s in zip(items, scores) if it.question.answerable and it.labels.any()]
    hits = [bool(it.labels[np.argsort(-s, kind="stable")[:k]].any()) for it, s in rows]
    return sum(hits) / max(len(hits), 1)


def baseline_scores(items: list[Item]) -> list[np.ndarray]:
    """The hand-weighted evidence score, on the same rows: cosine + 0.10 lexical + 0.08 / passage rank."""
    from traite_qa.answer.learned import FEATURES

    col = FEATURES.index
    return [it.features[:, col("s_cos")] + 0.10 * it.features[:, col("lex_s")]
            + 0.08 / np.expm1(it.features[:, col("p_fused_rank")]).clip(1) for it in items]


def answerability_rows(items: list[Item], scores: list[np.ndarray], sentence_vectors: np.ndarray):
    from traite_qa.answer.learned import CLASSES, answerability_features

    from traite_qa.answer.learned import VocabularyGap

    x = np.array([answerability_features(_query_like(it), it.features, s, VocabularyGap(
                      float(it.gap[0]), int(it.gap[1]), int(it.gap[2]), bool(it.gap[3])), it.max_bm25, it.vector,
                      sentence_vectors)
                  for it, s in zip(items, scores)])
    y = np.array([CLASSES.index("offtopic" if it.question.kind == "offtopic" else
                                "unanswerable" if it.question.kind == "unanswerable" else "answerable") for it in items])
    return x, y


class _query_like:
    """What answerability_features reads of a query, rebuilt from the features."""

    def __init__(self, it: Item):
        from traite_qa.answer.learned import FEATURES

        row = it.features[0]
        self.english = bool(row[FEATURES.index("english")])
        self.answer_type = "x" if row[FEATURES.index("ask_money"):FEATURES.index("ask_date") + 1].any() else None


def out_of_fold_scores(train: list[Item], rounds: int, folds: int = 3) -> list[np.ndarray]:
    """Ranker scores for train questions from models that did not see them (by fact group)."""
    out: list[np.ndarray | None] = [None] * len(train)
    fold_of = [int(hashlib.sha256(_group_key(it).encode()).digest()[0]) % folds for it in train]
    for f in range(folds):
        model = train_ranker([it for it, g in zip(train, fold_of) if g != f], rounds)
        for i, (it, g) in enumerate(zip(train, fold_of)):
            if g == f:
                out[i] = model.predict(it.features, num_threads=1)
    return out  # type: ignore[return-value]


def _group_key(it: Item) -> str:
    ids = bank.doc_sentence_ids(it.question.gold_sentences[:1])
    return f"s{ids[0]}" if ids else it.question.question


def fit_answerability(x: np.ndarray, y: np.ndarray, c: float):
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0) + 1e-9
    model = LogisticRegression(C=c, max_iter=2000, random_state=SEED)
    model.fit((x - mean) / scale, y)
    return model, mean, scale


def probabilities(model, mean, scale, x):
    return model.predict_proba((x - mean) / scale)


def thresholds_for(dev: list[Item], p_answerable: np.ndarray) -> dict[str, float]:
    """Per language: the highest cut that refuses at most 3% of dev's answerable questions."""
    out = {}
    for lang in ("fr", "en"):
        ps = np.sort([p for it, p in zip(dev, p_answerable) if it.question.answerable and it.question.lang == lang])
        allowed = int(np.floor(MAX_REFUSED * len(ps)))
        out[lang] = float(ps[allowed]) if len(ps) else 0.5  # refused: p < cut; the first `allowed` fall below
    return out


def refusal_rates(items: list[Item], p_answerable: np.ndarray, cuts: dict[str, float]) -> dict:
    from sklearn.metrics import roc_auc_score

    refused = np.array([p < cuts[it.question.lang] for it, p in zip(items, p_answerable)])
    kinds = np.array([it.question.kind for it in items])
    answerable = np.array([it.question.answerable for it in items])
    out = {"answerable_refused": float(refused[answerable].mean()),
           "unanswerable_refused": float(refused[kinds == "unanswerable"].mean()) if (kinds == "unanswerable").any() else None,
           "offtopic_refused": float(refused[kinds == "offtopic"].mean()) if (kinds == "offtopic").any() else None}
    if answerable.any() and (~answerable).any():
        out["auc"] = float(roc_auc_score(answerable, p_answerable))
    for lang in ("fr", "en"):
        mask = np.array([it.question.lang == lang for it in items])
        out[f"answerable_refused_{lang}"] = float(refused[answerable & mask].mean()) if (answerable & mask).any() else None
    return out


def choose_margin(items: list[Item], scores: list[np.ndarray]) -> float:
    """How far below the best a sentence may score and still be quoted: the
    margin that best trades a gold sentence among the quotes against quotes
    that are not gold (each costs 0.15 of a found answer), on dev."""
    best = None
    for margin in (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0):
        value = 0.0
        for it, s in zip(items, scores):
            if not (it.question.answerable and it.labels.any()):
                continue
            order = np.argsort(-s, kind="stable")
            chosen = [i for i in order[:3] if s[i] >= s[order[0]] - margin]
            gold = it.labels[chosen]
            value += float(gold.any()) - 0.15 * float((gold == 0).sum() - (0 if gold[0] else 1) * 0)
        if best is None or value > best[0] + 1e-9:
            best = (value, margin)
    return best[1]


def main(argv: list[str]) -> int:
    from traite_qa import Assistant, Settings

    # The features do not depend on the models being trained: load without them.
    assistant = Assistant.load(settings=Settings.from_env(learned=False), build=True, progress=False)
    assistant.warm_up()
    cache = Path(__file__).resolve().parent / "out" / "features.npz"
    cache.parent.mkdir(exist_ok=True)
    splits = {s: featurize_cached(assistant, bank.load(s), cache.with_name(f"features-{s}.npz")) for s in ("train", "dev", "test")}
    vectors = assistant.searcher.data.sentences.vectors
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    report = {"bank_sha256": bank_hash(), "n": {k: len(v) for k, v in splits.items()}}
    # 1. The ranker: rounds chosen on dev by recall@1 of an answer sentence.
    best = None
    for rounds in ROUNDS:
        model = train_ranker(train, rounds)
        r1 = recall_at(dev, [model.predict(it.features, num_threads=1) for it in dev], 1)
        print(f"ranker rounds={rounds}: dev recall@1 {r1:.3f}", flush=True)
        if best is None or r1 > best[0] + 1e-9:
            best = (r1, rounds, model)
    _, rounds, ranker = best
    for name, items in splits.items():
        learned = [ranker.predict(it.features, num_threads=1) for it in items]
        base = baseline_scores(items)
        report[f"ranker_{name}"] = {f"recall@{k}": recall_at(items, learned, k) for k in (1, 3, 5)}
        report[f"baseline_{name}"] = {f"recall@{k}": recall_at(items, base, k) for k in (1, 3, 5)}
    # 2. Answerability, on out-of-fold ranker scores for train (as at run time: unseen questions).
    x_train, y_train = answerability_rows(train, out_of_fold_scores(train, rounds), vectors)
    x_dev, y_dev = answerability_rows(dev, [ranker.predict(it.features, num_threads=1) for it in dev], vectors)
    best_c = None
    for c in (0.0003, 0.001, 0.003, 0.01, 0.03):
        model, mean, scale = fit_answerability(x_train, y_train, c)
        p = probabilities(model, mean, scale, x_dev)
        loss = -float(np.mean(np.log(p[np.arange(len(y_dev)), y_dev] + 1e-12)))
        print(f"answerability C={c}: dev log-loss {loss:.4f}", flush=True)
        if best_c is None or loss < best_c[0]:
            best_c = (loss, c, model, mean, scale)
    _, c, model, mean, scale = best_c
    cuts = thresholds_for(dev, probabilities(model, mean, scale, x_dev)[:, 0])
    x_test, _ = answerability_rows(test, [ranker.predict(it.features, num_threads=1) for it in test], vectors)
    for name, x, items in (("dev", x_dev, dev), ("test", x_test, test)):
        report[f"answerability_{name}"] = refusal_rates(items, probabilities(model, mean, scale, x)[:, 0], cuts)
    margin = choose_margin(dev, [ranker.predict(it.features, num_threads=1) for it in dev])
    from traite_qa.answer.learned import ANSWERABILITY, FEATURES

    meta = {
        "bank_sha256": report["bank_sha256"], "trained_on": report["n"],
        "ranker": {"features": list(FEATURES), "rounds": rounds, "params": RANKER_PARAMS, "choose_margin": margin},
        "answerability": {"features": list(ANSWERABILITY) + ["query_vector", "query_x_best_sentence"],
                          "dimension": int(vectors.shape[1]), "C": c, "mean": mean.tolist(), "scale": scale.tolist(),
                          "coef": model.coef_.tolist(), "intercept": model.intercept_.tolist(), "thresholds": cuts},
    }
    text = ranker.model_to_string()
    if "--check" in argv:
        shipped = (MODELS / "sentence_ranker.txt").read_text(encoding="utf-8")
        same = shipped == text and json.loads((MODELS / "models.json").read_text())["answerability"] == meta["answerability"]
        print("retrained models are identical to the shipped ones" if same else "retrained models DIFFER from the shipped ones")
        return 0 if same else 1
    MODELS.mkdir(parents=True, exist_ok=True)
    (MODELS / "sentence_ranker.txt").write_text(text, encoding="utf-8")
    (MODELS / "models.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    (out / "train.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))
    print(f"thresholds {cuts}; wrote {MODELS}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
