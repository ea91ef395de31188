"""Hand-written tables (cue words, politeness formulas, vocabulary), loaded
from `traite_qa/data/*.yaml`. Each file says where its entries come from;
code never holds such lists itself, so they can be audited in one place."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from .text import fold


@lru_cache(maxsize=None)
def table(name: str) -> dict:
    """The parsed `data/<name>.yaml` (read once per process)."""
    import yaml

    text = resources.files("traite_qa").joinpath("data", f"{name}.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def phrase_pattern(phrases, *, prefix: str = r"(?<![\w-])", suffix: str = r"(?![\w-])") -> re.Pattern:
    """One regex matching any of `phrases` (folded) as whole words, longest first."""
    folded = sorted({fold(p) for p in phrases}, key=len, reverse=True)
    return re.compile(prefix + "(?:" + "|".join(re.escape(p) for p in folded) + ")" + suffix)


def regex_list(patterns) -> re.Pattern:
    """Regexes (already folded) joined into one alternation."""
    return re.compile("|".join(f"(?:{p})" for p in patterns))
