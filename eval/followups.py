"""Follow-ups in conversation, and standalone questions asked mid-conversation.

    python -m eval.followups dev|test

Prints, for the split: its follow-ups answered right, asked after their
earlier turns; and each standalone answerable question (topic lists aside)
answered right when asked alone and when asked after another question of the
split (a fixed draw), so a follow-up reading that pins standalone questions
to the previous measure shows as a drop. Test is read as these aggregates only.
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys

from . import bank


def main(argv: list[str]) -> int:
    from traite_qa import Assistant, Settings

    split = argv[0] if argv else "dev"
    assistant = Assistant.load(settings=Settings.from_env(), progress=False)
    assistant.warm_up()
    questions = bank.load(split)
    follow_ups = [q for q in questions if q.history]
    alone = [q for q in questions if not q.history and q.answerable and q.kind != "topic_list"]
    rng = random.Random(3)
    earlier = [q.question for q in alone]
    mid = [dataclasses.replace(q, history=(rng.choice(earlier),)) for q in alone]

    def right(qs) -> str:
        return f"{sum(r.score.correct for r in bank.run(assistant, qs))}/{len(qs)}"

    print(json.dumps({"split": split, "followups": right(follow_ups), "standalone_alone": right(alone),
                      "standalone_mid_conversation": right(mid)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
