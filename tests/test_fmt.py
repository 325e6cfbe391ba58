"""filerate.fmt: one way to write each figure."""

import math

from filerate import fmt


def test_numbers_have_separators_and_a_real_minus():
    assert fmt.num(95108.4) == "95,108"
    assert fmt.num(-1234.5, 1) == "−1,234.5"
    assert fmt.num(None) == fmt.MISSING
    assert fmt.num(math.nan) == fmt.MISSING
    assert fmt.num("x") == fmt.MISSING


def test_rates_and_intervals_read_the_same_everywhere():
    assert fmt.rate(95108.6) == "95,109 files/s"
    assert fmt.rate_ci(95108.6, 90100, 99200) == "95,109 files/s [90,100–99,200]"
    assert fmt.rate_ci(5, None, None) == "5 files/s"
    assert fmt.short_rate(203_456) == "203K files/s"
    assert fmt.short_rate(95_108) == "95.1K files/s"
    assert fmt.short_rate(1_234_567) == "1.23M files/s"
    assert fmt.short_rate(512) == "512 files/s"
    # rounded first, unit picked after: never "1,000K" or "100.0"
    assert fmt.short_rate(999_600) == "1.00M files/s"
    assert fmt.short_rate(999.6) == "1.00K files/s"
    assert fmt.short_rate(99.96) == "100 files/s"
    assert fmt.short_rate(9.996) == "10.0 files/s"


def test_sizes_are_decimal_si():
    assert fmt.size(295_000_000) == "295.0 MB"
    assert fmt.size(2 * 2**30) == "2.1 GB"  # a 2 GiB setting, converted, not relabelled
    assert fmt.size(999) == "999 bytes"
    assert fmt.mb_per_s(142.04) == "142.0 MB/s"


def test_seconds_percent_and_ratios():
    assert fmt.seconds(0.02461) == "0.0246 s"
    assert fmt.seconds(2.671) == "2.67 s"
    assert fmt.seconds(123.4) == "123 s"
    assert fmt.pct(-4.25, 1, signed=True) == "−4.2 %"
    assert fmt.ratio(1.854) == "1.85×"


def test_significant_figures_and_gib_settings():
    assert fmt.sig(0.012345) == "0.01235"
    assert fmt.sig(12345.6) == "12,346"
    assert fmt.sig(2.5) == "2.500"
    assert fmt.sig(None) == fmt.MISSING
    # a *_gb setting is GiB: converted to decimal GB, the setting said after it
    assert fmt.gib_setting(2) == "2.1 GB (2 GiB)"
    assert fmt.gib_setting(0.5) == "536.9 MB (0.5 GiB)"
    assert fmt.gib_setting(None) == fmt.MISSING
