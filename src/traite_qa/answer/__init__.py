"""Stage 5, answers: the Assistant and its responders.

    from traite_qa.answer import Assistant
    answer = Assistant.load().ask("Où en est la mesure 16 ?")
"""

from ..types import ANSWERED, INVALID_QUESTION, NO_EVIDENCE, Answer, Citation, Evidence
from .assistant import Assistant, Responder
from .compose import MARKER_RE, marker_for, marker_matches
from .verify import answer_problems, stated_status_problems

__all__ = [
    "ANSWERED", "INVALID_QUESTION", "MARKER_RE", "NO_EVIDENCE", "Answer", "Assistant", "Citation", "Evidence",
    "Responder", "answer_problems", "marker_for", "marker_matches", "stated_status_problems",
]
