"""A test hook, loaded by a dashboard server whose PYTHONPATH starts with this folder (and by its workers):
scoring of the images named in $SAMIS_TEST_HOLD_STEMS waits until the file $SAMIS_TEST_RELEASE exists.

So a test can see a scoring job still running, whatever the machine's speed: the other images are
scored, the held ones wait for the test to let them go (at most 300 s, so a server never hangs for good).
"""

import os
import time

_STEMS = set(filter(None, os.environ.get("SAMIS_TEST_HOLD_STEMS", "").split(",")))
_RELEASE = os.environ.get("SAMIS_TEST_RELEASE", "")

if _STEMS and _RELEASE:
    import samis.evaluation as _evaluation

    _score_read_group = _evaluation.score_read_group

    def _held_score_read_group(loaded):
        if loaded[0] in _STEMS:
            deadline = time.monotonic() + 300
            while not os.path.exists(_RELEASE) and time.monotonic() < deadline:
                time.sleep(0.05)
        return _score_read_group(loaded)

    _evaluation.score_read_group = _held_score_read_group
