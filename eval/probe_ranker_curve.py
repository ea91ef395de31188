"""Probe: the sentence ranker's learning curve over the bank's train split.

    python -m eval.probe_ranker_curve      # a few minutes on 2 cores (features cached by `make train`)

The ranker trained on 25, 50, 75 and 100% of the train questions (whole fact
groups, by a fixed hash, so paraphrases stay together), 100, 200 and 300
rounds each; it prints dev recall@1/3/5 of an answer sentence. A flat curve
means more questions of the same kind would not move the ranker much; its
features would have to.
"""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

from . import bank
from . import train as T


def main(argv: list[str]) -> int:
    from traite_qa import Assistant, Settings

    a = Assistant.load(settings=Settings.from_env(learned=False), build=True, progress=False)
    a.warm_up()
    cache = T.Path(T.__file__).resolve().parent / "out" / "features.npz"
    splits = {s: T.featurize_cached(a, bank.load(s), cache.with_name(f"features-{s}.npz")) for s in ("train", "dev")}
    data = a.searcher.data
    meta = json.loads((T.MODELS / "models.json").read_text(encoding="utf-8"))
    train = T.with_adapter_out_of_fold(splits["train"], data, meta["query_adapter"]["lambda"])
    dev = T.with_adapter(splits["dev"], data, np.load(T.MODELS / "query_adapter.npy", allow_pickle=False))
    share = np.array([int(hashlib.sha256(T._group_key(it).encode()).hexdigest(), 16) % 100 for it in train])
    report = {}
    for percent in (25, 50, 75, 100):
        sub = [it for it, s in zip(train, share) if s < percent]
        for rounds in (100, 200, 300):
            model = T.train_ranker(sub, rounds)
            scores = [model.predict(it.features, num_threads=1) for it in dev]
            report[f"{percent}%_{rounds}"] = {"questions": len(sub)} | {
                f"recall@{k}": round(T.recall_at(dev, scores, k), 3) for k in (1, 3, 5)}
            print(percent, report[f"{percent}%_{rounds}"], flush=True)
    (T.Path(T.__file__).resolve().parent / "out" / "ranker_curve.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
