"""Put on PYTHONPATH of a test server only (tests/test_browser_pages.py):
the model and index take TQA_TEST_LOAD_DELAY more seconds to load, so a test
can act while the page is served and the model is still loading, however
fast this machine loads it."""

import os
import time

_delay = float(os.environ.get("TQA_TEST_LOAD_DELAY", "0") or 0)
if _delay > 0:
    from traite_qa_app import state as _state

    _load = _state.AppState._load

    def _slow_load(self):
        time.sleep(_delay)
        _load(self)

    _state.AppState._load = _slow_load
