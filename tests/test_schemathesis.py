"""The OpenAPI schema at `/openapi.json` run through schemathesis against the
live server (`traite-qa chat --port N` in a subprocess): every operation, the
examples, coverage and fuzzing phases, positive and negative data, and every
check (`--checks all`: not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance,
response_headers_conformance, negative_data_rejection,
positive_data_acceptance, unsupported_method, ...). No failure is allowed.

The run is bounded (100 examples per operation, one worker) and seeded, so a
failure is reproducible with the command printed in the assertion; set
TRAITE_QA_ST_SEED to explore other seeds. The full report is written to
tests/out/schemathesis.txt (and a JUnit XML beside it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import live

pytestmark = [pytest.mark.server, pytest.mark.slow]
OUT = Path(__file__).parent / "out"
MAX_EXAMPLES = 100
SEED = int(os.environ.get("TRAITE_QA_ST_SEED", "20240607"))
WARNINGS = ("missing_auth,base_url_mismatch,validation_mismatch,missing_deserializer,unused_openapi_auth,unsupported_regex,"
            "method_not_allowed,constants_extraction,unmatched_filter,unresolvable_reference,low_valid_rate,rate_limited,"
            "dictionary_mismatch,timeout_units")
OPERATIONS = 9  # /api/search, /api/ask, /api/measures, /api/measures/{n}, /healthz, /api/feedback, /api/feedback/summary,
# PUT and DELETE /api/feedback/{id}


@pytest.fixture(scope="session")
def live_server(index_settings):  # shared with the other server tests (tests/live.py counts the users)
    server = live.acquire(index_settings.index_dir, OUT)
    yield server
    live.release(server)


def st_command() -> list[str]:
    exe = Path(sys.executable).with_name("st")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("st")
    if found:
        return [found]
    return [sys.executable, "-c", "from schemathesis.cli import schemathesis; schemathesis()"]


def test_openapi_schema_passes_schemathesis(live_server):
    OUT.mkdir(parents=True, exist_ok=True)
    report = OUT / "schemathesis.txt"
    junit = OUT / "schemathesis-junit.xml"
    command = [
        *st_command(), "run", f"{live_server.url}/openapi.json",
        "--checks", "all",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "60",
        "--generation-database", "none",
        "--no-color",
        # Every warning but "missing test data": POST /api/feedback answers 404
        # to answer ids it never gave, and a fuzzer cannot mint real ones
        # (tests/test_feedback_fuzz.py rates real answers).
        "--warnings", WARNINGS,
        "--report", "junit", "--report-junit-path", str(junit),
    ]
    env = {**os.environ, "NO_COLOR": "1", "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    report.write_text(output, encoding="utf-8")

    generated = re.search(r"(\d+) generated", output)
    summary = next((line.strip("= ") for line in output.splitlines() if re.search(r"issues? found|No issues", line)), "")
    print(f"\nschemathesis: {generated.group(0) if generated else '?'} in {elapsed:.0f} s: {summary}")
    rerun = " ".join(command).replace(live_server.url, "http://127.0.0.1:PORT")
    assert result.returncode == 0, f"schemathesis failed (rerun: {rerun}):\n{output[-12000:]}"
    assert "No issues found" in output, output[-4000:]
    assert re.search(rf"Selected: {OPERATIONS}/{OPERATIONS}", output) and f"Tested: {OPERATIONS}" in output, output[-4000:]
    assert generated and int(generated.group(1)) >= OPERATIONS * 20, output[-4000:]  # it really ran the cases
    assert live_server.process.poll() is None, "the server died during the run"


# ------------------------------------------------------------ Gradio routes
# Gradio's own routes have no OpenAPI schema (its /gradio_api/openapi.json is
# closed): this one describes what the page and gradio_client send, and what
# the guard answers. Values may be file-shaped (Gradio's FileData, {"path"},
# {"url"}): the schema allows them, so schemathesis generates them, and the
# oracle below requires them to be refused.
import json  # noqa: E402

import schemathesis  # noqa: E402
from hypothesis import HealthCheck  # noqa: E402
from hypothesis import settings as hypothesis_settings  # noqa: E402

LEAK = re.compile(r"root:x:0:0|/gradio_api/file=|gradio[/\\][0-9a-f]{20,}|TQA-ST-CANARY")
CANARY_TEXT = "TQA-ST-CANARY-41b7"
SESSION = {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}
FILE_DATA = {
    "type": "object",
    "required": ["path"],
    "properties": {"path": {"type": "string", "enum": ["/etc/passwd", "/proc/self/environ", "/dev/zero", "CANARY", "../../etc/passwd"]},
                   "meta": {"type": "object", "properties": {"_type": {"type": "string", "enum": ["gradio.FileData"]}}}},
}
VALUE = {"oneOf": [
    {"type": "string", "maxLength": 200}, {"type": "integer"}, {"type": "null"}, {"type": "boolean"}, FILE_DATA,
    {"type": "object", "required": ["url"], "properties": {"url": {"type": "string", "enum": ["file:///etc/passwd", "http://127.0.0.1/"]}}},
    {"type": "array", "maxItems": 3, "items": {"type": "object", "properties": {
        "role": {"type": "string", "enum": ["user", "assistant"]},
        "content": {"oneOf": [{"type": "string", "maxLength": 100}, {"type": "array", "maxItems": 2, "items": {"oneOf": [
            {"type": "object", "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string", "maxLength": 50}}},
            {"type": "object", "properties": {"type": {"type": "string", "enum": ["file"]}, "file": FILE_DATA}},
        ]}}]}}}},
]}
ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}, "description": "refused"}
GRADIO_OPENAPI = {
    "openapi": "3.0.3",
    "info": {"title": "traite-qa Gradio routes (as guarded)", "version": "1"},
    "paths": {
        "/gradio_api/call/{api_name}": {"post": {
            "parameters": [{"name": "api_name", "in": "path", "required": True, "schema": {"type": "string", "enum": ["ask", "search", "chat"]}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["data"],
                "properties": {"data": {"type": "array", "maxItems": 6, "items": VALUE}, "session_hash": {**SESSION, "nullable": True}}}}}},
            "responses": {"200": {"description": "queued", "content": {"application/json": {"schema": {
                "type": "object", "required": ["event_id"], "properties": {"event_id": {"type": "string"}}}}}},
                **{code: ERROR for code in ("400", "404", "405", "413", "415", "422", "429")}},
        }},
        "/gradio_api/queue/join": {"post": {
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["data", "fn_index", "session_hash"],
                "properties": {"data": {"type": "array", "maxItems": 6, "items": VALUE}, "fn_index": {"type": "integer", "minimum": -2, "maximum": 30},
                               "session_hash": SESSION, "trigger_id": {"type": "integer", "nullable": True},
                               "event_data": {"nullable": True, "oneOf": [VALUE]}}}}}},
            "responses": {"200": {"description": "queued", "content": {"application/json": {"schema": {
                "type": "object", "required": ["event_id"], "properties": {"event_id": {"type": "string"}}}}}},
                **{code: ERROR for code in ("400", "404", "413", "415", "422", "429")}},
        }},
    },
    "components": {"schemas": {"ErrorResponse": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {"type": "object", "required": ["code", "message", "field"], "additionalProperties": False,
                                 "properties": {"code": {"type": "string", "pattern": "^[a-z_]+$"}, "message": {"type": "string", "minLength": 1},
                                                "field": {"type": "string", "nullable": True}}}}}}},
}


# Known at collection (schemathesis builds its tests then): a file under tests/out.
CANARY_FILE = OUT / "st-canary.txt"
OUT.mkdir(parents=True, exist_ok=True)
CANARY_FILE.write_text(CANARY_TEXT, encoding="utf-8")
gradio_routes = schemathesis.openapi.from_dict(json.loads(json.dumps(GRADIO_OPENAPI).replace('"CANARY"', json.dumps(str(CANARY_FILE)))))


def _file_shaped(value) -> bool:
    if isinstance(value, dict):
        return bool({"path", "url", "meta"} & set(value)) or any(_file_shaped(v) for v in value.values())
    return isinstance(value, list) and any(_file_shaped(v) for v in value)


@gradio_routes.parametrize()
@hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(HealthCheck))
def test_gradio_routes_pass_schemathesis(case, live_server):
    """Every generated call: no 5xx, a documented status whose body fits the
    schema, file-shaped values refused (422 file_data_refused), and no file
    content or server path in the reply or in the accepted call's result."""
    from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

    response = case.call(base_url=live_server.url, timeout=60)
    # Not schemathesis's data-acceptance checks: a value inside "data" that the
    # schema does not describe is the function's to refuse, through the event
    # stream (an error event), not the HTTP status; and the file-shaped values
    # the schema describes must be refused (checked below), not accepted.
    case.validate_response(response, excluded_checks=[negative_data_rejection, positive_data_acceptance])
    text = response.text
    known_route = (case.path_parameters or {}).get("api_name", "ask") in ("ask", "search", "chat")
    if _file_shaped(case.body) and isinstance(case.body, dict) and known_route:
        assert response.status_code == 422 and response.json()["error"]["code"] == "file_data_refused", text[:300]
    if response.status_code == 200 and case.path.startswith("/gradio_api/call/"):
        import httpx

        url = f"{live_server.url}/gradio_api/call/{case.path_parameters['api_name']}/{response.json()['event_id']}"
        with httpx.stream("GET", url, timeout=60) as stream:
            text += "".join(stream.iter_text())
    assert not LEAK.search(text), text[:400]
