"""Probe, not shipped: would a LoRA on e5's query side beat the linear query adapter?

    pip install peft && python -m eval.probe_lora      # about 15 minutes on 2 cores

A rank-8 LoRA on the query and value projections of e5-small's 12 layers
(147k weights), trained on the bank's train split with the adapter's own loss
(a softmax over every indexed sentence, the question's gold sentences as
positives, temperature 0.02; 3 epochs, batch 32, AdamW 5e-4). The document's
vectors are untouched, as with the linear adapter. It prints, on dev:

- sentence recall@1 and @5 of the LoRA'd question's cosine alone (the linear
  adapter's: `adapter_dev` in eval/results/train.json);
- the ranker's recall@1/3/5 with the adapter's four columns computed from the
  linear adapter (as shipped), from the LoRA instead, and from both; train rows
  get columns from a LoRA that did not see them (3 folds by fact), as
  `make train` does for the linear adapter.

Not deterministic to the last digit (torch on 2 threads). docs/evaluation.md
quotes one run and why the LoRA was not adopted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys

import numpy as np

from . import bank
from . import train as T

EPOCHS, RANK, LR, TEMPERATURE, BATCH = 3, 8, 5e-4, 0.02, 32


def main(argv: list[str]) -> int:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        print("eval.probe_lora needs peft, which traite-qa does not install: pip install peft", file=sys.stderr)
        return 2
    import lightgbm
    import torch

    from traite_qa import Assistant, Settings
    from traite_qa.search import ranks
    from traite_qa.search.searcher import CONTEXT_WEIGHT

    torch.manual_seed(T.SEED)
    a = Assistant.load(settings=Settings.from_env(learned=False), build=True, progress=False)
    a.warm_up()
    data = a.searcher.data
    sentences = data.sentences.vectors.astype(np.float32)
    cache = T.Path(T.__file__).resolve().parent / "out" / "features.npz"
    splits = {s: T.featurize_cached(a, bank.load(s), cache.with_name(f"features-{s}.npz")) for s in ("train", "dev")}
    texts = {}
    for items in splits.values():
        for it in items:
            q = a.understand(it.question.question, T.history(it.question))
            texts[it.question.id] = (q.embedded or q.core, q.context)
    st = a.searcher.embedder.model
    base = {k: v.clone() for k, v in st[0].auto_model.state_dict().items()}

    def fit(items):
        hf = st[0].auto_model
        hf.load_state_dict(base)
        model = get_peft_model(hf, LoraConfig(r=RANK, lora_alpha=2 * RANK, target_modules=["query", "value"], lora_dropout=0.1))
        rows = [it for it in items if it.question.answerable and it.labels.any()]
        optimiser = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=LR)
        s, rng = torch.from_numpy(sentences), np.random.default_rng(T.SEED)

        def encode(batch):
            b = st.tokenizer(["query: " + x for x in batch], padding=True, truncation=True, max_length=128, return_tensors="pt")
            out, mask = model(**b).last_hidden_state, b["attention_mask"].unsqueeze(-1).float()
            return torch.nn.functional.normalize((out * mask).sum(1) / mask.sum(1), dim=-1)

        def vectors(batch):  # a follow-up leans toward its previous question, as Searcher.query_vector does
            v = encode([texts[it.question.id][0] for it in batch])
            with_context = [i for i, it in enumerate(batch) if texts[it.question.id][1]]
            if with_context:
                c = encode([texts[batch[i].question.id][1] for i in with_context])
                v = v.clone()
                v[with_context] = torch.nn.functional.normalize(v[with_context] + CONTEXT_WEIGHT * c, dim=-1)
            return v

        model.train()
        for _ in range(EPOCHS):
            order = rng.permutation(len(rows))
            for i in range(0, len(order), BATCH):
                batch = [rows[j] for j in order[i:i + BATCH]]
                y = torch.from_numpy(np.array([it.labels for it in batch]))
                logits = vectors(batch) @ s.T / TEMPERATURE
                loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(y == 0, -1e9), 1)).mean()
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        model.eval()

        def encode_items(its):
            with torch.no_grad():
                return torch.cat([vectors(its[i:i + 64]) for i in range(0, len(its), 64)]).numpy()
        return encode_items, model

    lora: dict[str, np.ndarray] = {}
    train = splits["train"]
    fold_of = [int(hashlib.sha256(T._group_key(it).encode()).digest()[0]) % 3 for it in train]
    for f in range(3):
        encode_items, model = fit([it for it, g in zip(train, fold_of) if g != f])
        mine = [it for it, g in zip(train, fold_of) if g == f]
        lora.update({it.question.id: v for it, v in zip(mine, encode_items(mine))})
        model.unload()
    encode_items, _ = fit(train)
    lora.update({it.question.id: v for it, v in zip(splits["dev"], encode_items(splits["dev"]))})

    report: dict = {}
    rows = [it for it in splits["dev"] if it.question.answerable and it.labels.any()]
    x, y = np.array([lora[it.question.id] for it in rows]), np.array([it.labels for it in rows])
    top = np.argsort(-(x @ sentences.T), 1, kind="stable")[:, :5]
    report["lora_cosine_dev"] = {f"recall@{k}": float(np.mean(np.take_along_axis(y, top[:, :k], 1).sum(1) > 0)) for k in (1, 5)}

    def columns(v):
        t = data.sentences
        cos = sentences @ v
        best = np.full(len(data.chunks), -1.0, np.float32)
        np.maximum.at(best, t.rows, cos)
        return np.column_stack([cos, cos - cos.max(), np.log1p(ranks(cos)), best[t.rows]]).astype(np.float32)

    meta = json.loads((T.MODELS / "models.json").read_text(encoding="utf-8"))
    matrix = np.load(T.MODELS / "query_adapter.npy", allow_pickle=False)
    linear = {"train": T.with_adapter_out_of_fold(train, data, meta["query_adapter"]["lambda"]),
              "dev": T.with_adapter(splits["dev"], data, matrix)}
    for mode in ("linear", "lora", "both"):
        def variant(items):
            out = []
            for it in items:
                extra = columns(lora[it.question.id])
                f = {"linear": it.features, "lora": np.hstack([it.features[:, :-4], extra]),
                     "both": np.hstack([it.features, extra])}[mode]
                out.append(dataclasses.replace(it, features=f))
            return out
        tr, dv = variant(linear["train"]), variant(linear["dev"])
        xs, ys, groups = T.ranker_data(tr)
        for rounds in (100, 200, 300):
            model = lightgbm.train(T.RANKER_PARAMS, lightgbm.Dataset(xs, ys, group=groups), num_boost_round=rounds)
            scores = [model.predict(it.features, num_threads=1) for it in dv]
            report[f"ranker_dev_{mode}_{rounds}"] = {f"recall@{k}": round(T.recall_at(dv, scores, k), 3) for k in (1, 3, 5)}
            print(mode, rounds, report[f"ranker_dev_{mode}_{rounds}"], flush=True)
    out = T.Path(T.__file__).resolve().parent / "out" / "lora_probe.json"
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
