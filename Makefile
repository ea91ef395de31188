# Two commands on a fresh machine: `make run` (the chat) and `make test`.
# Every target is idempotent: setup reinstalls only when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Nothing may reach a model hub or analytics at run time.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false
# mkdocs 1.6 prints a notice about MkDocs 2 on every build.
export NO_MKDOCS_2_WARNING := 1

.PHONY: setup run build outline test test-unit test-eval train bench compare load docs system-tools browser-deps clean constraints

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@echo "traite-qa: installation de l'environnement Python dans $(VENV) (torch, modèle, Gradio) : environ 2 minutes, pip reste muet pendant ce temps (seuls des avertissements s'affichent)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel on disk (an unpinned resolve takes CUDA).
	$(BIN)/pip install --quiet torch==2.13.0
	# The extras too: chat (the web chat and HTTP API: `make run`), feedback
	# (its database drivers), llm (the optional generator's client); the
	# LangChain, LlamaIndex and MCP tests need theirs; qdrant: the optional Qdrant store, so
	# its tests run (local mode, no server). constraints.txt: the versions CI
	# passed with (`make constraints` rewrites it from a green venv).
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,chat,feedback,llm,langchain,llamaindex,mcp,qdrant]'
	touch $(STAMP)

# The exact versions of a venv that passed `make test`, for the next fresh install.
constraints: setup
	$(BIN)/pip freeze --exclude-editable | grep -v '^traite.qa' > constraints.txt

# The chat: builds the index when missing or stale, then serves it.
run: setup
	@echo "traite-qa: démarrage du chat ; au premier lancement, l'index du document est construit d'abord (environ 15 s). « prêt » s'affiche quand les réponses sont disponibles."
	$(BIN)/traite-qa chat

build: setup
	$(BIN)/traite-qa build

outline: setup
	$(BIN)/traite-qa outline

# Debian packages the tests drive: chromium (browser tests; Playwright cannot
# download browsers here), wrk (load tests) and postgresql (the feedback
# store's tests start a throwaway cluster; Debian keeps initdb off PATH, in
# /usr/lib/postgresql/N/bin); fonts-noto-color-emoji so the screenshots show
# the 👍/👎 buttons (headless chromium has no emoji font otherwise).
SYSTEM_TOOLS := chromium wrk
system-tools:
	@missing=""; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	ls /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf >/dev/null 2>&1 || missing="$$missing fonts-noto-color-emoji"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing:$$missing — run 'sudo apt-get install -y$$missing' (needed by the browser, load and feedback tests)" >&2; exit 1; fi; fi

browser-deps: system-tools

# Records its own wall time in eval/out/make-test.json (`make bench` quotes it).
# The longest test files are handed out first (tests/conftest.py, SLOW_FIRST) so
# that a worker does not start one of them last while the other sits idle
# (--no-loadscope-reorder: xdist would otherwise order files by test count).
# The eval runs twice: in the default fp32 arithmetic, and in bf16 on a fresh
# index (AVX512-BF16 or AMX where the CPU has them), so drift shows up here and
# not on a user's machine; thresholds hold under both (eval/arith.py). Each run
# keeps about one core busy, so the two run side by side (one per core): the
# bf16 run writes its reports to eval/out/bf16/ and its log to
# eval/out/eval-bf16.log (printed when both are done), the fp32 run, the
# default arithmetic whose figures the README and docs quote, to eval/ and the
# terminal. Both must pass.
test: setup system-tools
	@start=$$(date +%s); \
	$(BIN)/python -m eval.docs_figures && $(BIN)/mkdocs build --strict --quiet --site-dir build/site && \
	$(BIN)/lint-imports && HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25 tests \
	  && mkdir -p eval/out && rm -rf eval/out/idx-bf16 eval/out/bf16 \
	  && { TRAITE_QA_QUANTIZE=bf16 TRAITE_QA_INDEX_DIR=eval/out/idx-bf16 TRAITE_QA_EVAL_REPORT_DIR=eval/out/bf16 $(BIN)/python -m pytest eval -p no:cacheprovider >eval/out/eval-bf16.log 2>&1 & bf16=$$!; \
	       $(BIN)/python -m pytest eval -p no:cacheprovider; fp32=$$?; \
	       wait $$bf16; bf16=$$?; echo "---- pytest eval, bf16 (eval/out/eval-bf16.log): exit $$bf16"; cat eval/out/eval-bf16.log; \
	       echo "---- pytest eval: fp32 exit $$fp32, bf16 exit $$bf16"; [ $$fp32 -eq 0 ] && [ $$bf16 -eq 0 ]; }; \
	rc=$$?; mkdir -p eval/out; \
	echo "{\"seconds\": $$(( $$(date +%s) - start )), \"exit\": $$rc, \"at\": \"$$(date -u +%FT%TZ)\", \"loadavg\": \"$$(cut -d' ' -f1-3 /proc/loadavg)\"}" > eval/out/make-test.json; \
	echo "make test: $$(( $$(date +%s) - start )) s"; exit $$rc

test-unit: setup
	$(BIN)/python -m pytest tests -m "not slow and not browser and not server"

test-eval: setup
	$(BIN)/python -m pytest eval

# The learned parts (sentence ranker, answerability) from the question bank:
# deterministic, a few minutes on 2 cores; writes src/traite_qa/data/models/.
train: setup
	$(BIN)/python -m eval.train

# The docs site: figures regenerated from eval/out/, then built into build/site
# (`$(BIN)/mkdocs serve` to read it while editing).
docs: setup
	$(BIN)/python -m eval.docs_figures
	$(BIN)/mkdocs build --strict --site-dir build/site

# Performance figures (docs/performance.md): latency, cold start, build, RSS, the usual
# recipe side by side, FAISS scaling.
bench: setup
	$(BIN)/python -m eval.bench --scaling

# Retrieval of four pipelines side by side on the question set.
compare: setup
	$(BIN)/python -m eval.compare

# HTTP load (wrk) and 50 concurrent chat sessions against a local server; then
# 50 sessions of distinct questions (no cache hits): the old serialized
# encoder against micro-batching, a server each.
load: setup system-tools
	$(BIN)/python -m eval.load
	$(BIN)/python -m eval.load_distinct

clean:
	rm -rf index/build index/.build-* eval/report.md eval/report.json eval/out
