"""The hand-rule counter (eval/rules_count.py) counts code lines, not
docstrings or comments: its figure is an issue's target, so it must be right."""

from __future__ import annotations

from eval.rules_count import code_lines


def test_docstrings_closing_at_the_end_of_a_text_line_are_not_code(tmp_path):
    source = tmp_path / "m.py"
    source.write_text(
        '"""A module docstring\n'
        'whose quotes close at the end of this line."""\n'
        "\n"
        "import re  # 1\n"
        "\n"
        "def f():  # 2\n"
        '    """One line."""\n'
        "    return 1  # 3\n"
        "\n"
        "def g():  # 4\n"
        '    """Several lines,\n'
        '    closing here."""\n'
        "    x = 2  # 5\n"
        "    # a comment\n"
        "    return x  # 6\n",
        encoding="utf-8",
    )
    assert code_lines(source) == 6
