"""Sweep tuning constants on the blind set's dev split (never test).

    python -m eval.tune_blind w_decisive=0,0.03,0.06 w_wanted=0,0.03

Each combination is a `Settings.with_(...)` copy sharing the loaded index
and model; prints dev accuracy overall and per kind, best first.
"""

from __future__ import annotations

import itertools
import sys

from traite_qa import Assistant
from traite_qa.search import Searcher

from .blind import aggregate, load, run


def main(argv: list[str]) -> int:
    grid = {}
    for arg in argv:
        name, values = arg.split("=")
        grid[name] = [float(v) if "." in v else int(v) for v in values.split(",")]
    base = Assistant.load()
    dev = [q for q in load() if q.split == "dev"]
    rows = []
    for values in itertools.product(*grid.values()):
        changes = dict(zip(grid, values))
        settings = base.settings.with_(**changes)
        assistant = Assistant(Searcher(base.searcher.data, base.searcher.embedder, settings))
        stats = aggregate(run(assistant, dev))
        rows.append((stats["overall"]["accuracy"], changes, stats))
    rows.sort(key=lambda r: -r[0])
    for acc, changes, stats in rows:
        kinds = " ".join(f"{k[:5]}={v['accuracy']:.2f}" for k, v in stats.items() if k not in ("overall", "french-like", "english-like"))
        print(f"{acc:.3f} {changes} | {kinds}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
