"""xlalign.timing: one DEBUG line per phase, only when DEBUG is on, also when the phase fails."""

from __future__ import annotations

import logging

import pytest

from xlalign.timing import PhaseTimes, timed

log = logging.getLogger("xlalign.test_timing")


def test_timed_logs_one_debug_line_with_its_details_and_marks_a_failure(caplog):
    with caplog.at_level("DEBUG", logger=log.name):
        with timed(log, "encode", texts=3):
            pass
        with pytest.raises(ValueError), timed(log, "fit"):
            raise ValueError("boom")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and all(r.levelno == logging.DEBUG for r in caplog.records)
    assert messages[0].startswith("timing: encode ") and messages[0].endswith(" s (texts=3)")
    assert messages[1].startswith("timing: fit ") and messages[1].endswith(" s failed")


def test_phase_times_add_up_calls_and_log_each_phase_once(caplog):
    with caplog.at_level("DEBUG", logger=log.name):
        times = PhaseTimes(log)
        for _ in range(3):
            with times.phase("rank"):
                pass
            with times.phase("metrics"):
                pass
        times.log(pools=3)
    assert times.calls == {"rank": 3, "metrics": 3}
    assert [r.getMessage().split(" (")[1] for r in caplog.records] == ["calls=3, pools=3)", "calls=3, pools=3)"]
    assert [r.getMessage().split()[1] for r in caplog.records] == ["rank", "metrics"]


def test_nothing_is_measured_or_logged_without_debug(caplog):
    with caplog.at_level("INFO", logger=log.name):
        times = PhaseTimes(log)
        with times.phase("rank"), timed(log, "encode"):
            pass
        times.log()
    assert caplog.records == [] and times.seconds == {}
