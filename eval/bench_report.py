"""`make bench`, the report side: the table's rows, the side-by-side with the
usual recipe and the JSON (see eval/bench.py)."""

from __future__ import annotations

import json

import numpy as np

K = 10
TARGETS = {"search_over_encode": 1.3, "ask_p50_ms": 60.0, "first_build_s": 20.0, "warm_build_s": 2.0, "first_answer_s": 5.0}


def percentiles(seconds: list[float]) -> dict:
    """p50/p95/mean/min/max in milliseconds (linear interpolation)."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds, dtype=float) * 1000
    return {"n": len(ms), "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "max_ms": float(ms.max())}


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "n/a"
    return "ok" if value <= limit else "MISSED"


def fmt_table(rows: list[tuple[str, str, str]]) -> list[str]:
    """Three aligned columns: what, value (with unit), ratio / target."""
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return [f"{a:<{w0}}  {b:>{w1}}  {c}".rstrip() for a, b, c in rows]


def md_table(rows: list[tuple[str, str, str]]) -> list[str]:
    return ["| measure | value | ratio / target |", "|---|---:|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]


def ms_pair(d: dict | None) -> str:
    if not d or not d.get("n"):
        return "—"
    return f"{d['p50_ms']:.1f} / {d['p95_ms']:.1f} ms"


def mb(kb: float | None) -> str:
    return "—" if kb is None else f"{kb / 1024:.0f} MB"


def _secs(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f} s"



def table_rows(r: dict) -> list[tuple[str, str, str]]:
    lat, cold, b, rec, mem = r.get("latency", {}), r.get("cold_start", {}), r.get("build", {}), r.get("recall", {}), r.get("rss_kb", {})
    enc, srch, ask, rsrch = (lat.get(k) for k in ("encode", "search", "ask", "recipe_search"))
    p50 = lambda d: d.get("p50_ms") if d else None  # noqa: E731
    rows = [("questions", f"{r.get('questions', 0)}", f"distinct, valid, every kind; top {K}; query cache cleared before each search/ask")]
    if lat:
        s_ratio = ratio(p50(srch), p50(enc))
        rows += [
            ("query encode p50 / p95", ms_pair(enc), "the floor"),
            ("search p50 / p95", ms_pair(srch), f"p50 / encode p50 = {s_ratio:.2f} (target ≤ {TARGETS['search_over_encode']}: "
                                                  f"{verdict(s_ratio, TARGETS['search_over_encode'])})" if s_ratio else ""),
            ("ask p50 / p95 (extractive)", ms_pair(ask), f"target p50 ≤ {TARGETS['ask_p50_ms']:.0f} ms: {verdict(p50(ask), TARGETS['ask_p50_ms'])}; "
                                                        f"p50 / search p50 = {ratio(p50(ask), p50(srch)) or 0:.2f}"),
            ("  ask, retrieval route / structured", f"{p50(lat.get('ask_search_route')) or 0:.1f} / {p50(lat.get('ask_structured')) or 0:.1f} ms",
             f"p50; {lat.get('ask_search_route', {}).get('n', 0)} / {lat.get('ask_structured', {}).get('n', 0)} questions"),
            ("recipe search p50 / p95", ms_pair(rsrch), f"recipe / ours (p50) = {ratio(p50(rsrch), p50(srch)) or 0:.2f}"),
        ]
    if r.get("load"):
        rows.append(("in-process load: model / index", f"{r['load']['model_s']:.2f} / {r['load']['index_s']:.2f} s", "warm OS cache"))
    for name, label in (("search", "search --json"), ("ask", "ask --json` (structured"), ("ask_retrieval", "ask --json` (retrieval")):
        c = cold.get(name)
        if c:
            label = f"cold start `traite-qa {label}" + (")" if "(" in label else "`")
            rows.append((label, _secs(c["first_line_s_median"]),
                         f"to first JSON line, median of {len(c['runs'])} (first run {_secs(c['first_run_s'])}, min {_secs(c['first_line_s_min'])}); peak RSS {mb(c['maxrss_kb'])}"))
    app = cold.get("app")
    if app is not None:
        if app.get("skipped"):
            rows.append(("cold start `traite-qa chat`", "skipped", app["skipped"]))
        else:
            first = app.get("first_answer_s")
            rows.append(("cold start `traite-qa chat`, structured", _secs(first),
                         f"to the first POST /api/ask answer (HTTP {app.get('http_status')}); target < {TARGETS['first_answer_s']:.0f} s: "
                         f"{verdict(first, TARGETS['first_answer_s'])}; peak RSS {mb(app.get('maxrss_kb'))}"
                         + (f"; {app['error']}" if app.get("error") else "")))
            if app.get("first_retrieval_s") is not None:
                rows.append(("cold start `traite-qa chat`, retrieval", _secs(app["first_retrieval_s"]),
                             f"then a retrieval question (intent {app.get('retrieval_intent')}), from the spawn; target < "
                             f"{TARGETS['first_answer_s']:.0f} s: {verdict(app['first_retrieval_s'], TARGETS['first_answer_s'])}"))
    if b:
        first, warm = b.get("first_cli"), b.get("warm_cli")
        if first:
            rows.append(("first build (empty embedding cache)", _secs(first["wall_s"]),
                         f"`traite-qa build --force`, {first.get('embedded')} texts embedded, build_index {_secs(first.get('seconds'))}; "
                         f"target ≤ {TARGETS['first_build_s']:.0f} s: {verdict(first['wall_s'], TARGETS['first_build_s'])}; peak RSS {mb(first.get('maxrss_kb'))}"))
        fp32 = b.get("first_cli_fp32")
        if first and fp32:
            rows.append(("first build, fp32 passages", _secs(fp32["wall_s"]),
                         f"{fp32.get('embedded')} texts; default ({_secs(first['wall_s'])}) / fp32 = {ratio(first['wall_s'], fp32['wall_s']) or 0:.2f}"))
        rows.append(("warm rebuild, in-process", _secs(b.get("warm_inprocess_s")),
                     f"build_index(force=True), model loaded; target ≤ {TARGETS['warm_build_s']:.0f} s: {verdict(b.get('warm_inprocess_s'), TARGETS['warm_build_s'])}"))
        if warm:
            rows.append(("warm rebuild, `traite-qa build --force`", _secs(warm["wall_s"]), f"whole process (imports + model load); build_index {_secs(warm.get('seconds'))}"))
        rf, rw = b.get("recipe_first_cli"), b.get("recipe_warm_cli")
        if rf:
            rows.append(("recipe first build (empty cache)", _secs(rf["wall_s"]),
                         f"`python -m eval.baseline`, {rf.get('embedded')} chunks embedded; recipe / ours = {ratio(rf['wall_s'], first['wall_s'] if first else None) or 0:.2f}"))
        rows.append(("recipe warm rebuild, in-process", _secs(b.get("recipe_warm_inprocess_s")), f"process: {_secs(rw['wall_s']) if rw else '—'}"))
    rows += perf_rows(r)
    mt = r.get("make_test")
    if mt:
        rows.append(("`make test` wall time (its last run)", _secs(mt.get("seconds")),
                     f"target < 480 s: {verdict(mt.get('seconds'), 480.0)}; exit {mt.get('exit')}, {mt.get('at')}, "
                     f"load average at the end {mt.get('loadavg', '?')}"))
    for name, label in (("ours", "ours (hybrid)"), ("recipe", "fixed-size recipe")):
        if name in rec:
            x = rec[name]
            rows.append((f"retrieval {label}", f"R@1 {x['recall@1']:.3f}  R@5 {x['recall@5']:.3f}", f"MRR {x['mrr']:.3f} on {x['n']} questions with gold"))
    if mem:
        rows.append(("peak RSS of this process", mb(mem.get("self")), "model + index + recipe + Assistant"))
    for row in r.get("scaling", []):
        rows.append((f"FAISS {row['n']:,} x 384: flat / HNSW p50", f"{row['flat']['p50_ms']:.3f} / {row['hnsw']['p50_ms']:.3f} ms",
                     f"x{row['speedup_p50']:.1f} faster, HNSW recall@10 {row['hnsw']['recall@10']:.3f}, HNSW build {row['hnsw']['build_seconds']:.1f} s (1 thread search)"))
    return rows


def perf_rows(r: dict) -> list[tuple[str, str, str]]:
    """The encoder comparison, Qdrant parity and micro-batching load rows."""
    rows = []
    enc = (r.get("encoders") or {}).get("engines", {})
    for name, e in enc.items():
        if e.get("p50_ms") is None:
            rows.append((f"query encode, {name}", "failed", (e.get("error") or "")[-120:]))
            continue
        rows.append((f"query encode p50 / p95, {name}", f"{e['p50_ms']:.1f} / {e['p95_ms']:.1f} ms",
                     f"{e['ratio_to_fp32']:.2f} x fp32 (median of {r['encoders']['rounds']} rounds); engine ready in {e['ready_s']:.2f} s"
                     if e.get("ratio_to_fp32") is not None else ""))
    q = r.get("qdrant")
    if q:
        rows.append(("Qdrant (local mode) top 5 = FAISS top 5", "skipped" if "skipped" in q else f"{q['identical']} / {q['compared']}",
                     q.get("skipped") or ("identical on every eval question" if not q["differ"] else f"differ: {', '.join(q['differ'][:5])}")))
    load = r.get("load_distinct")
    if load:
        for mode, f in load["modes"].items():
            rows.append((f"load, distinct questions, {mode}", f"{f['encodes_per_s']:.1f} encodes/s",
                         f"{load['sessions']} sessions x {load['questions_per_session']}: p50 / p95 / p99 {f['p50_ms']:.0f} / "
                         f"{f['p95_ms']:.0f} / {f['p99_ms']:.0f} ms; {f['errors']} errors, {f['invalid']} invalid"))
        rows.append(("  micro-batched / serialized", f"x{load['throughput_ratio']} throughput", f"p95 x{load['p95_ratio']}"))
    return rows


def side_by_side(r: dict) -> list[str]:
    lat, b, rec = r.get("latency", {}), r.get("build", {}), r.get("recall", {})
    cell = lambda d, k: f"{d[k]:.1f} ms" if d and d.get(k) is not None else "—"  # noqa: E731
    rows = [
        ("search p50", cell(lat.get("search"), "p50_ms"), cell(lat.get("recipe_search"), "p50_ms")),
        ("search p95", cell(lat.get("search"), "p95_ms"), cell(lat.get("recipe_search"), "p95_ms")),
        ("first build (process, empty cache)", _secs((b.get("first_cli") or {}).get("wall_s")), _secs((b.get("recipe_first_cli") or {}).get("wall_s"))),
        ("warm rebuild (in-process)", _secs(b.get("warm_inprocess_s")), _secs(b.get("recipe_warm_inprocess_s"))),
        ("texts embedded at first build", str((b.get("first_cli") or {}).get("embedded", "—")), str((b.get("recipe_first_cli") or {}).get("embedded", "—"))),
    ]
    for m in ("recall@1", "recall@5", "mrr"):
        rows.append((m.replace("recall", "Recall"), *(f"{rec[x][m]:.3f}" if x in rec else "—" for x in ("ours", "recipe"))))
    return ["| | ours (hybrid, structure-aware) | fixed-size recipe (1000/200) |", "|---|---:|---:|",
            *(f"| {a} | {b_} | {c} |" for a, b_, c in rows)]


def strip_seconds(report: dict) -> dict:
    """The JSON keeps the raw per-question timings (ms) for re-plotting."""
    out = json.loads(json.dumps(report, default=str))
    for d in out.get("latency", {}).values():
        if "seconds" in d:
            d["samples_ms"] = [round(s * 1000, 3) for s in d.pop("seconds")]
    return out
