"""Answer snapshot: every eval question plus harmless rewordings, asked once,
written as JSON lines, so a refactoring can prove that behaviour did not change.

    python -m eval.snapshot write eval/out/snapshot-before.jsonl
    python -m eval.snapshot write eval/out/snapshot-after.jsonl
    python -m eval.snapshot diff eval/out/snapshot-before.jsonl eval/out/snapshot-after.jsonl
    python -m eval.snapshot digest eval/snapshot.digest      # what eval/test_snapshot.py compares
"""

from __future__ import annotations

import hashlib
import json
import sys
import unicodedata
from pathlib import Path

from .common import load_questions

# Harmless rewordings: a person would expect the same answer to each.
REWORDINGS = {
    "polite": lambda q: f"Bonjour, pourriez-vous me dire : {q} Merci.",
    "caps": lambda q: q.upper(),
    "no-accents": lambda q: "".join(c for c in unicodedata.normalize("NFKD", q) if not unicodedata.combining(c)),
    "no-question-mark": lambda q: q.rstrip(" ?"),
    "typo": lambda q: _typo(q),
}


def _typo(question: str) -> str:
    """Swap two letters inside the longest word (a deterministic typo)."""
    words = question.split(" ")
    i = max(range(len(words)), key=lambda j: (len(words[j]), -j))
    w = words[i]
    if len(w) >= 6 and w[2:4].isalpha():
        words[i] = w[:2] + w[3] + w[2] + w[4:]
    return " ".join(words)


def variants(questions, n: int = 100) -> list[tuple[str, str, list]]:
    """`n` reworded questions: every k-th eval question, each rewording in turn."""
    pool = [q for q in questions if q.question.strip() and not q.history]
    step = max(1, len(pool) // (n // len(REWORDINGS)))
    out = []
    for i, q in enumerate(pool[::step]):
        for name, fn in REWORDINGS.items():
            out.append((f"{q.id}~{name}", fn(q.question), []))
        if len(out) >= n:
            break
    return out[:n]


def collect(assistant) -> list[dict]:
    questions = load_questions()
    items = [(q.id, q.question, list(q.history)) for q in questions] + variants(questions)
    rows = []
    for qid, text, history in items:
        answer = assistant.ask(text, history or None).to_dict()
        answer.pop("answer_id", None)  # added after the snapshot; derived from the rest
        try:
            hits = [h.id for h in assistant.searcher.search(text, k=10)]
        except Exception as err:  # noqa: BLE001 - the error itself is part of the behaviour
            hits = [f"{type(err).__name__}: {err}"]
        rows.append({"id": qid, "question": text, "answer": answer, "search": hits})
    return rows


DIGEST = Path(__file__).with_name("snapshot.digest")
# The encoders the digest was taken with (settings fields): fp32 torch for both roles.
SNAPSHOT_ENCODERS = {"query_encoder": "torch", "passage_encoder": "torch", "quantize": "none"}


def digests(rows: list[dict]) -> dict[str, str]:
    """id -> sha256 of the row's canonical JSON (answer and search ranking)."""
    return {row["id"]: hashlib.sha256(json.dumps(row, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]
            for row in rows}


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "digest":
        from traite_qa import Assistant

        from traite_qa import Settings

        from traite_qa.index.embedder import SentenceTransformerEmbedder

        settings = Settings.from_env(**SNAPSHOT_ENCODERS)
        embedder = SentenceTransformerEmbedder(settings.model, settings.model_cache, settings.batch_size, "none", direct=False)
        rows = digests(collect(Assistant.load(settings=settings, embedder=embedder)))
        Path(argv[1]).write_text("".join(f"{k}\t{v}\n" for k, v in rows.items()), encoding="utf-8")
        print(f"{len(rows)} digests written to {argv[1]}")
        return 0
    if len(argv) == 2 and argv[0] == "write":
        from traite_qa import Assistant

        assistant = Assistant.load()
        rows = collect(assistant)
        Path(argv[1]).parent.mkdir(parents=True, exist_ok=True)
        with open(argv[1], "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
        print(f"{len(rows)} answers written to {argv[1]}")
        return 0
    if len(argv) == 3 and argv[0] == "diff":
        before = [json.loads(line) for line in open(argv[1], encoding="utf-8")]
        after = [json.loads(line) for line in open(argv[2], encoding="utf-8")]
        changed = [(a["id"], b) for a, b in zip(before, after) if a != b]
        for qid, _ in changed[:20]:
            print(f"changed: {qid}")
        print(f"{len(before)} before, {len(after)} after, {len(changed)} changed")
        return 1 if changed or len(before) != len(after) else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
