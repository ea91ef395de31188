"""Pure rendering: answers, passages, measures and hits -> escaped HTML.

One import for the views, which live in their own modules:

- `markup`: escaping, badges, marker chips, `**bold**`, highlighted passages, footnotes;
- `answer_view`: an answer's bubble (both answer text formats), its Markdown, feedback;
- `sources_view`: the sources panel, annex 2 tables, the conversation as Markdown;
- `dashboard_view`: the status chart, the measures table, a measure's text;
- `search_view`: the "Recherche" tab.

The functions take the plain dicts of the JSON API (`Answer.to_dict()`,
`Hit.to_dict()`) so the chat, the API and the tests share one shape; `notes`
maps a footnote number to an object with `.text` and `.urls` (the document
model's `Footnote`).
"""

from __future__ import annotations

from traite_qa import MARKER_RE  # noqa: F401 - the tests check the chips use the library's marker syntax

from .answer_view import (  # noqa: F401
    answer_blocks,
    answer_html,
    answer_markdown,
    blocks_markdown,
    EXAMPLES,
    conversation_html,
    examples_html,
    feedback_html,
    filters_text,
    humane_note,
    suggestion_question,
    turn_html,
)
from .dashboard_view import (  # noqa: F401
    chart_html,
    dashboard_html,
    measure_dialog_html,
    measure_html,
    measures_table_html,
    status_summary_html,
)
from .markup import (  # noqa: F401
    KIND_LABELS,
    STATUS_ORDER,
    e,
    error_html,
    footnote_html,
    highlight,
    inline,
    marker_chip,
    marker_targets,
    source_id,
    status_badge,
    status_slug,
    text_with_markers,
)
from .search_view import hits_html, weak_results  # noqa: F401
from .sources_view import (  # noqa: F401
    breadcrumb,
    citation_html,
    conversation_markdown,
    passage_titles,
    sources_html,
    table_rows,
    turn_markdown,
)
