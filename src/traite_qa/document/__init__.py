"""Stage 1, the document: the evaluation parsed into its own structure.

    from traite_qa.document import parse_file
    evaluation = parse_file("index/source/cncdh-evaluation-pna-traite-2019-2021.txt")
    evaluation.measure(16).status      # Status.NON_REALISEE
"""

from ..types import Span, Status
from .model import (
    Acronym,
    Action,
    Axis,
    Evaluation,
    Footnote,
    Measure,
    Paragraph,
    SummaryRow,
    sentence_case,
)
from .parser import parse, parse_file

__all__ = [
    "Acronym", "Action", "Axis", "Evaluation", "Footnote", "Measure", "Paragraph", "Span", "Status", "SummaryRow",
    "parse", "parse_file", "sentence_case",
]
