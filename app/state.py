"""One Assistant per process, shared by the HTTP API and the chat.

The document model is parsed at once (a few ms, no torch) so the page can be
built and served immediately; the Assistant (index, then query encoder) loads
in a background thread started with the server; callers get it as soon as the
index is loaded (questions that need the encoder then wait for its warm-up), or
`AssistantUnavailable` while the index loads.
"""

from __future__ import annotations

import logging
import threading
import time

from traite_qa import FeedbackRecorder, Settings, TraiteQAError, with_feedback

log = logging.getLogger("traite_qa_app")


class AssistantUnavailable(Exception):
    """The index could not be loaded, or is still loading after the wait."""

    def __init__(self, message: str, loading: bool):
        self.loading = loading
        super().__init__(message)


def _has_index(index_dir) -> bool:
    """An index folder with something in it (a stale one is rebuilt too, but that is not told apart here)."""
    try:
        return any(index_dir.iterdir())
    except OSError:
        return False


class AppState:
    def __init__(self, settings: Settings | None = None, assistant=None, rebuild_stale: bool = False):
        if assistant is not None:
            self.settings = assistant.settings
            self.evaluation = assistant.evaluation
        else:
            from traite_qa import parse_file

            self.settings = settings or Settings.from_env()
            self.evaluation = parse_file(self.settings.source)
        # Answers are remembered in memory (never on disk) so feedback can name
        # them; the database is opened only when feedback is first saved.
        self.feedback = FeedbackRecorder(self.settings)
        self._assistant = with_feedback(assistant, self.feedback) if assistant is not None else None
        self.rebuild_stale = rebuild_stale
        self._error: str | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.load_seconds: float | None = None
        self.load_started: float | None = None  # time.monotonic() when loading began (the chat's progress estimate)
        # True while a missing index is built first (a first run): the chat's
        # estimate and `traite-qa chat`'s messages say so (issue 22).
        self.building = False
        if assistant is not None:
            self._ready.set()

    # ------------------------------------------------------------ loading
    def start_loading(self) -> None:
        """Load and warm the Assistant in a background thread (idempotent)."""
        with self._lock:
            if self._ready.is_set() or self._thread is not None:
                return
            self.load_started = time.monotonic()
            self.building = self.rebuild_stale and not _has_index(self.settings.index_dir)
            self._thread = threading.Thread(target=self._load, name="traite-qa-load", daemon=True)
            self._thread.start()

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            from traite_qa import Assistant

            # One load; with rebuild_stale, a missing, stale or damaged index
            # (model fingerprint included) is rebuilt first, with progress on stderr.
            assistant = Assistant.load(settings=self.settings, build=self.rebuild_stale, progress=self.rebuild_stale)
            # Usable from here: structured questions (status, acronyms, counts)
            # answer from the index alone; a retrieval question waits inside the
            # embedder until the warm-up below has loaded the query encoder.
            self._assistant = with_feedback(assistant, self.feedback)
            self.evaluation = assistant.evaluation
            assistant.warm_up()
        except TraiteQAError as err:
            self._error = str(err)
            log.error("traite-qa: cannot load the index: %s", err)
        except Exception as err:  # noqa: BLE001 - reported to every caller, never raised in the thread
            self._error = f"{type(err).__name__}: {err}"
            log.exception("traite-qa: cannot load the index")
        finally:
            self.load_seconds = time.perf_counter() - started
            self.building = False
            self._ready.set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until loading ends (loaded or failed); True when answers are available."""
        self._ready.wait(timeout)
        return self.ready

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and self._assistant is not None

    @property
    def error(self) -> str | None:
        return self._error

    def assistant(self, timeout: float = 0.0):
        """The loaded Assistant. While it loads, waits up to `timeout` seconds
        (the HTTP API does not wait: a burst at start-up must not hold every
        worker thread), then raises AssistantUnavailable(loading=True)."""
        if self._assistant is not None:
            return self._assistant
        self.start_loading()
        if not self._ready.wait(timeout):
            raise AssistantUnavailable("the index is still loading: retry in a few seconds", loading=True)
        if self._assistant is None:
            raise AssistantUnavailable(f"the index could not be loaded: {self._error}", loading=False)
        return self._assistant

    def notes(self) -> dict[int, object]:
        return {f.number: f for f in self.evaluation.footnotes}
