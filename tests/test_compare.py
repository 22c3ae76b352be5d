"""The one comparison every check uses: names, dtypes, shapes, NaN/Inf, tolerances."""

from __future__ import annotations

import numpy as np

from exporter.core.compare import compare


def test_equal_outputs_pass_with_their_differences():
    exp = {"p": np.array([[0.1, 0.9]], np.float32), "n": np.array([3], np.int64)}
    act = {"p": np.array([[0.1, 0.9 + 1e-7]], np.float32), "n": np.array([3], np.int64)}
    result = compare(exp, act)
    assert result.ok
    p = next(c for c in result.checks if c.key == "p")
    assert 0 < p.max_abs_diff < 2e-7
    assert result.lines() == [
        "[ok] n: identical",
        f"[ok] p: max abs diff {p.max_abs_diff:.2e}, max rel diff "
        f"{p.max_rel_diff:.2e} (atol 1e-05)",
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
        "1 of 2 values beyond tolerance: max abs diff 5.00e-01 (atol 0.001, rtol 0)"
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
