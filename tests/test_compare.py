"""The one comparison every check uses: names, dtypes, shapes, NaN/Inf, tolerances."""

from __future__ import annotations

import numpy as np
import pytest

from exporter.core.compare import Spread, by_hand, compare, merge
from exporter.errors import UsageError


def test_equal_outputs_pass_with_their_differences():
    exp = {"p": np.array([[0.1, 0.9]], np.float32), "n": np.array([3], np.int64)}
    act = {"p": np.array([[0.1, 0.9 + 1e-7]], np.float32), "n": np.array([3], np.int64)}
    result = compare(exp, act)
    assert result.ok
    p = next(c for c in result.checks if c.key == "p")
    assert 0 < p.max_abs_diff < 2e-7
    assert (p.values, p.beyond, p.p99_abs_diff) == (2, 0, p.max_abs_diff)
    assert p.mean_abs_diff == p.max_abs_diff / 2
    assert result.lines() == [
        "[ok] n: identical",
        f"[ok] p: max abs diff {p.max_abs_diff:.2e} (p99 {p.p99_abs_diff:.1e}, mean "
        f"{p.mean_abs_diff:.1e}), max rel diff {p.max_rel_diff:.2e} (atol 1e-05)",
    ]


def test_every_failure_is_collected():
    exp = {
        "a": np.zeros((2, 3), np.float32),
        "b": np.zeros(2, np.int32),
        "c": np.ones(2, np.float32),
        "gone": np.zeros(1, np.float32),
    }
    act = {
        "a": np.zeros((3, 2), np.float32),
        "b": np.zeros(2, np.int64),
        "c": np.array([1.0, 1.5], np.float32),
        "extra": np.zeros(1, np.float32),
    }
    result = compare(exp, act, atol=1e-3, rtol=0)
    problems = {c.key: c.problems for c in result.checks}
    assert not result.ok
    assert problems["a"] == ["shape [3, 2], expected [2, 3]"]
    assert problems["b"] == ["dtype int64, expected int32"]
    assert problems["c"] == [
        "1 of 2 values beyond tolerance: max abs diff 5.00e-01, p99 5.0e-01, mean 2.5e-01 "
        "(atol 0.001, rtol 0)"
    ]
    assert problems["gone"] == ["missing from the actual outputs"]
    assert problems["extra"] == ["not an expected output"]


def test_nan_and_inf_must_sit_in_the_same_places():
    exp = {"x": np.array([np.nan, np.inf, 1.0, -np.inf], np.float32)}
    assert compare(exp, {"x": exp["x"].copy()}).ok
    moved = {"x": np.array([1.0, np.inf, np.nan, np.inf], np.float32)}
    problems = compare(exp, moved).checks[0].problems
    assert problems == [
        "NaN in 2 position(s) where the other side has none",
        "Inf differs in 1 position(s)",
    ]


def test_relative_tolerance_scales_with_the_value():
    exp = {"x": np.array([1000.0], np.float64)}
    act = {"x": np.array([1000.005], np.float64)}
    assert not compare(exp, act, atol=1e-3, rtol=0).ok
    assert compare(exp, act, atol=1e-3, rtol=1e-5).ok


def test_strings_and_bools_compare_exactly():
    exp = {"s": np.array([b"hi", b"there"], dtype=object), "b": np.array([True, False])}
    same = {"s": np.array([b"hi", b"there"], dtype=bytes), "b": np.array([True, False])}
    assert compare(exp, same).ok
    other = {"s": np.array([b"hi", b"here"], dtype=bytes), "b": np.array([True, True])}
    problems = {c.key: c.problems for c in compare(exp, other).checks}
    assert problems == {"b": ["1 of 2 values differ"], "s": ["1 of 2 values differ"]}


def test_empty_tensors_and_scalars():
    empty, scalar = np.zeros((0, 4), np.float32), np.array(1.5, np.float32)
    assert compare({"e": empty, "s": scalar}, {"e": empty.copy(), "s": scalar.copy()}).ok
    # nothing but empty outputs: no value was compared, so nothing was proven
    nothing = compare({"e": empty}, {"e": empty.copy()})
    assert not nothing.ok
    assert [c.key for c in nothing.checks if not c.ok] == ["(all outputs)"]
    assert "0 values compared" in nothing.lines()[-1]
    assert not compare({"s": np.array(3, np.int32)}, {"s": np.array(4, np.int32)}).ok


def test_the_99th_percentile_is_within_five_percent_and_never_above_the_max():
    gaps = np.random.default_rng(0).lognormal(-12, 2, 100_000)
    spread = Spread()
    for part in np.array_split(gaps, 7):  # batch by batch, as a stream adds them
        spread.add(part)
    exact = float(np.quantile(gaps, 0.99, method="inverted_cdf"))
    assert exact <= spread.p99 <= exact * 1.05
    assert spread.max == gaps.max() and spread.count == gaps.size
    assert np.isclose(spread.mean, gaps.mean())
    zeros = Spread()
    zeros.add(np.array([0.0] * 99 + [1e-3]))
    assert (zeros.p99, zeros.max, zeros.mean) == (0.0, 1e-3, 1e-5)


def test_batches_merge_into_the_figures_of_the_whole():
    rng = np.random.default_rng(1)
    exp = rng.normal(size=(10, 4)).astype(np.float32)
    act = exp + rng.normal(scale=1e-6, size=exp.shape).astype(np.float32)
    act[7, 2] += 1.0  # one value beyond tolerance, in the third batch
    whole = compare({"y": exp}, {"y": act}).checks[0]
    parts = [
        compare({"y": exp[i : i + 3]}, {"y": act[i : i + 3]}, label="b") for i in range(0, 10, 3)
    ]
    merged = merge("all", parts)
    check = merged.checks[0]
    assert not merged.ok and check.shape == [10, 4]
    assert (check.values, check.beyond) == (40, 1) == (whole.values, whole.beyond)
    assert check.max_abs_diff == whole.max_abs_diff
    assert check.p99_abs_diff == whole.p99_abs_diff
    assert np.isclose(check.mean_abs_diff, whole.mean_abs_diff)
    assert check.problems == whole.problems
    assert "spread" not in check.to_json()
    shapes = merge("all", [parts[0], compare({"y": exp[:3]}, {"y": act[:3, :2]})])
    assert shapes.checks[0].problems == ["batch 2: shape [3, 2], expected [3, 4]"]


def test_an_output_can_have_its_own_tolerance():
    exp = {"probs": np.array([0.5, 0.5], np.float32), "logits": np.array([1.0], np.float32)}
    act = {"probs": np.array([0.5, 0.5001], np.float32), "logits": np.array([1.0001], np.float32)}
    outputs = by_hand({}, set(exp), atol_of={"probs": 1e-3})
    assert outputs == {"probs": {"compare": "values", "why": "--atol probs=0.001", "atol": 1e-3}}
    result = compare(exp, act, atol=1e-5, rtol=0, outputs=outputs)
    checks = {c.key: c for c in result.checks}
    assert checks["probs"].ok and checks["probs"].atol == 1e-3
    assert not checks["logits"].ok and "(atol 1e-05, rtol 0)" in checks["logits"].problems[0]
    assert result.lines()[1].endswith("(atol 0.001)")
    with pytest.raises(UsageError, match="--atol prob: no output has that key"):
        by_hand({}, set(exp), atol_of={"prob": 1e-3})
