"""`traite-qa feedback list | export | purge | migrate`: the operator's side of the loop."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..settings import Settings
from .model import RATINGS, REASONS, now_utc


def add_commands(sub) -> None:
    p = sub.add_parser("feedback", help="answers rated by users: list, export as eval candidates, purge",
                       allow_abbrev=False)
    p.add_argument("--database", help="database URL (default: SQLite in the user data dir; TRAITE_QA_DATABASE_URL)")
    commands = p.add_subparsers(dest="feedback_command", required=True)

    c = commands.add_parser("list", help="the feedback, newest first, as a table", allow_abbrev=False)
    _filters(c)
    c.add_argument("--limit", type=int, default=50, help="at most this many rows (default 50; 0 = all)")
    c.add_argument("--json", action="store_true", help="one JSON object per line, with the answer")
    c.set_defaults(run=_list)

    c = commands.add_parser("export", help="candidate entries for eval/questions.yaml", allow_abbrev=False)
    _filters(c)
    c.add_argument("-o", "--output", type=Path, help="write to this file (default: stdout)")
    c.set_defaults(run=_export)

    c = commands.add_parser("purge", help="delete feedback and logged questions older than the retention",
                            allow_abbrev=False)
    c.add_argument("--days", type=int, help="retention in days (default: TRAITE_QA_FEEDBACK_RETENTION_DAYS)")
    c.set_defaults(run=_purge)

    c = commands.add_parser("migrate", help="create or upgrade the database schema now (otherwise done on first write)",
                            allow_abbrev=False)
    c.set_defaults(run=_migrate)


def _filters(parser) -> None:
    parser.add_argument("--rating", choices=RATINGS)
    parser.add_argument("--reason", choices=list(REASONS))


def _store(args, settings: Settings):
    from ..errors import require_extra

    require_extra("feedback", "sqlalchemy")  # pip install 'traite-qa[feedback]'
    from .store import FeedbackStore  # SQLAlchemy: imported only when a feedback command runs

    if args.database:
        settings = settings.with_(database_url=args.database)
    return FeedbackStore.from_settings(settings)


def _list(args, settings: Settings) -> int:
    store = _store(args, settings)
    records = store.feedback(args.rating, args.reason, limit=args.limit or None)
    if args.json:
        for record in records:
            print(json.dumps(record.to_dict(), ensure_ascii=False))
        return 0
    if not records:
        print(f"(aucun retour dans {store.display})")
        return 0
    print(f"{'id':>5}  {'date (UTC)':<16}  {'note':<4}  {'raison':<18}  {'question':<50}  commentaire")
    for r in records:
        print(f"{r.id:>5}  {r.created_at[:16].replace('T', ' '):<16}  {r.rating:<4}  {r.reason or '':<18}  "
              f"{_cut(r.question, 50):<50}  {_cut(r.comment or '', 60)}")
    print(f"\n{len(records)} retour(s) — {store.display}")
    return 0


def _export(args, settings: Settings) -> int:
    from .export import write_yaml

    # Streamed: rows are read, turned into entries and written as they come,
    # so a large table needs no more memory than one answer's ratings.
    counts, groups = _store(args, settings).export_groups(args.rating, args.reason)
    when = now_utc()[:19] + "Z"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            n = write_yaml(out, counts, groups, when)
        print(f"{n} candidate question(s) written to {args.output}", file=sys.stderr)
    else:
        write_yaml(sys.stdout, counts, groups, when)
    return 0


def _purge(args, settings: Settings) -> int:
    days = args.days if args.days is not None else settings.feedback_retention_days
    deleted = _store(args, settings).purge(days)
    print(f"purged {deleted['feedback']} feedback row(s) and {deleted['questions']} logged question(s) older than {days} days")
    return 0


def _migrate(args, settings: Settings) -> int:
    store = _store(args, settings)
    applied = store.migrate()
    print(f"{store.display}: schema version {store.schema_version()}" + (f" (applied {applied})" if applied else " (up to date)"))
    return 0


def _cut(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
