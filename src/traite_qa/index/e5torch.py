"""The converted e5-small (XLM-R encoder) run directly in torch: the weights
from `model.safetensors`, the fast tokenizer from `tokenizer.json`, mean
pooling and L2 normalisation, as sentence-transformers does for this folder.

Why not sentence-transformers here: importing it (and transformers) costs
~4-5 s of every process that encodes passages, a quarter of the first-build
budget, for a 12-layer encoder that fits in the forward below. Same vectors:
cosine >= 0.99999 to sentence-transformers on the document
(tests/test_encoders.py). Any other model keeps going through
sentence-transformers (embedder.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .batching import cores

MAX_TOKENS = 512  # the model's window (514 positions, 2 reserved by XLM-R)
_LAYER = ("attention.output.dense.weight", "attention.output.dense.bias", "attention.output.LayerNorm.weight",
          "attention.output.LayerNorm.bias", "intermediate.dense.weight", "intermediate.dense.bias", "output.dense.weight",
          "output.dense.bias", "output.LayerNorm.weight", "output.LayerNorm.bias")


def is_e5_folder(path: Path) -> bool:
    """A folder this module can run: an XLM-R config, safetensors weights, a fast tokenizer, mean pooling."""
    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (config.get("model_type") == "xlm-roberta" and pooling.get("pooling_mode_mean_tokens") is True
            and (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file())


class E5Torch:
    """`encode(texts, prefix)` -> (n, hidden) float32, L2-normalised; `prompts` from the folder."""

    def __init__(self, folder: Path, dtype: str = "float32"):
        import torch
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self.hidden, self.heads = config["hidden_size"], config["num_attention_heads"]
        self.eps, self.pad = config["layer_norm_eps"], config["pad_token_id"]
        self.dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[dtype]
        # The word embeddings (250k x 384, 384 MB) stay as stored, memory-mapped:
        # only the rows a batch uses are read and cast (casting all of them
        # took ~0.7 s of every start and another copy in memory).
        word = "embeddings.word_embeddings.weight"
        weights = {k: v if k == word else v.to(self.dtype) for k, v in load_file(str(folder / "model.safetensors")).items()}
        self.emb = {k.removeprefix("embeddings."): v for k, v in weights.items() if k.startswith("embeddings.")}
        self.layers = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            layer = {name: weights[p + name] for name in _LAYER}
            # Q, K and V in one matrix: one GEMM instead of three.
            layer["qkv.weight"] = torch.cat([weights[f"{p}attention.self.{x}.weight"] for x in ("query", "key", "value")])
            layer["qkv.bias"] = torch.cat([weights[f"{p}attention.self.{x}.bias"] for x in ("query", "key", "value")])
            self.layers.append(layer)
        try:
            prompts = json.loads((folder / "config_sentence_transformers.json").read_text(encoding="utf-8"))["prompts"]
        except (OSError, ValueError, KeyError):
            prompts = {}
        self.prompts = {"query": prompts.get("query", ""), "document": prompts.get("document", "")}
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def page_in(self) -> int:
        """Map every page of the memory-mapped word embeddings into this
        process now (one float read per page); returns the bytes covered.

        Left alone, a server maps them as questions bring new tokens: ~150 MB
        of RSS over its first ~1,000 distinct questions (eval/abuse.py), which
        looks like a leak. Read once at start-up (~0.1 s from the page cache),
        the RSS holds the whole matrix (384 MB of clean file pages, shared with
        any other process mapping the file, dropped first under memory
        pressure) and stays flat. Not for one-shot processes (the CLI): they
        read only the rows of their question."""
        import mmap

        import torch

        word = self.emb["word_embeddings.weight"]
        flat = word.view(-1)
        # One element per page: every page of the matrix is read once, whatever
        # the matrix's offset in the file (plus the last element, for its tail page).
        stride = max(1, mmap.PAGESIZE // word.element_size())
        with torch.inference_mode():  # the sum is not needed: reading every page is the point
            float(flat[::stride].sum() + flat[-1])
        return flat.numel() * word.element_size()

    def encode(self, texts: list[str], prefix: str, batch_size: int = 32, progress: bool = False,
               workers: int | None = None) -> np.ndarray:
        """Batches of similar lengths (sorted), so little of each is padding.

        Several batches: one worker thread per core, each running its batches
        on one torch thread. The matrices of a batch are small (384 wide), so
        one torch op split over the cores spends much of its time at OpenMP
        barriers (worse when the machine is shared); whole batches side by side
        do not: ~30% less wall time for a first build here."""
        import torch

        ids = [e.ids for e in self.tokenizer.encode_batch([prefix + t for t in texts])]
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
        out = np.empty((len(ids), self.hidden), dtype=np.float32)
        batches = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(batches), desc="Batches", unit="batch")

        def run(rows: list[int]) -> None:
            with torch.inference_mode():
                out[rows] = self._forward([ids[i] for i in rows]).numpy()
            if bar is not None:
                bar.update(1)

        workers = min(workers or cores(), len(batches))
        if workers <= 1:
            for rows in batches:
                run(rows)
        else:
            from concurrent.futures import ThreadPoolExecutor

            previous = torch.get_num_threads()
            torch.set_num_threads(1)  # process-wide while the workers run: one core each
            try:
                with ThreadPoolExecutor(max_workers=workers) as pool:
                    list(pool.map(run, batches))  # longest first: the pool balances the tail
            finally:
                torch.set_num_threads(previous)
        if bar is not None:
            bar.close()
        return out

    def _forward(self, batch: list[list[int]]):
        import torch
        import torch.nn.functional as F

        width = max(len(x) for x in batch)
        ids = torch.full((len(batch), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.bool)
        for row, x in enumerate(batch):
            ids[row, : len(x)] = torch.tensor(x)
            mask[row, : len(x)] = True
        positions = torch.cumsum(mask, 1) * mask + self.pad  # XLM-R counts positions from padding_idx + 1
        e, h, eps = self.emb, self.hidden, self.eps
        x = e["word_embeddings.weight"][ids].to(self.dtype) + e["position_embeddings.weight"][positions] + e["token_type_embeddings.weight"][0]
        x = F.layer_norm(x, (h,), e["LayerNorm.weight"], e["LayerNorm.bias"], eps)
        # No padding (one question, or texts of one length): no mask, the same
        # vectors bit for bit (checked on 1,229 questions), and ~0.3 ms less per
        # question encode (the boolean mask is turned into an additive one in every layer).
        keep = None if all(len(x) == width for x in batch) else mask[:, None, None, :]
        n, t = ids.shape
        for w in self.layers:
            qkv = F.linear(x, w["qkv.weight"], w["qkv.bias"]).view(n, t, 3, self.heads, h // self.heads).permute(2, 0, 3, 1, 4)
            attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep).transpose(1, 2).reshape(n, t, h)
            x = F.layer_norm(x + F.linear(attended, w["attention.output.dense.weight"], w["attention.output.dense.bias"]), (h,),
                             w["attention.output.LayerNorm.weight"], w["attention.output.LayerNorm.bias"], eps)
            inner = F.gelu(F.linear(x, w["intermediate.dense.weight"], w["intermediate.dense.bias"]))
            x = F.layer_norm(x + F.linear(inner, w["output.dense.weight"], w["output.dense.bias"]), (h,),
                             w["output.LayerNorm.weight"], w["output.LayerNorm.bias"], eps)
        weight = mask[..., None].float()
        pooled = (x.float() * weight).sum(1) / weight.sum(1)  # summed in float32 whatever the model's dtype
        return F.normalize(pooled, dim=-1)
