"""reports.measured: the bottleneck report's sentence on how a phase was measured."""

from __future__ import annotations

import pytest

from filerate.reports import measured


def _m(repeats: int, passes: int) -> dict:
    return {
        "files_per_s_median": 1000.0,
        "files_per_s_ci_low": 990.0,
        "files_per_s_ci_high": 1010.0,
        "repeats": repeats,
        "passes": passes,
        "min_repeat_s": 1.0,
        "stop_reason": "ci_target",
        "ci_half_width_pct": 1.0,
        "ci_target_pct": 5.0,
        "stable": True,
        "latency": {},
    }


@pytest.mark.parametrize(
    "repeats,passes,says",
    [
        (9, 9, "over 9 repeats of one pass each,"),  # a cold phase: evicted before each
        (6, 146, "over 6 repeats of at least 1.0 s (146 whole passes),"),
    ],
)
def test_the_repeats_are_described_as_they_ran(repeats, passes, says):
    (text, _) = measured.measurement_markdown(_m(repeats, passes))
    assert says in text
