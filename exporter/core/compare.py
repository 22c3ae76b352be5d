"""The one output comparison every check uses: export verification and Python/Java parity.

Names first, then dtypes and shapes, then values (NaN and Inf in the same places, the rest
within atol + rtol * |expected|). Every failure is collected before the verdict."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace

import numpy as np

from exporter.errors import UsageError

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
NOTHING_COMPARED = "(all outputs)"  # the check a comparison of no values fails
# How an output is compared (the manifest's `checks`): its values (the default), its dtype
# and shape only (an output of unseeded random ops, `--shape-only`), or not at all (`--skip`).
HOW = ("values", "shape", "skip")


def by_hand(
    outputs: dict[str, dict],
    keys: set[str],
    skip=(),
    shape_only=(),
    atol_of: dict[str, float] | None = None,
    rtol_of: dict[str, float] | None = None,
) -> dict[str, dict]:
    """`outputs` (key -> {"compare", "why"[, "atol", "rtol"]}) with the outputs `--shape-only`
    and `--skip` name, and the tolerances of single outputs (`--atol KEY=V`: `atol_of`,
    `rtol_of`). Raises UsageError for a key no output has (`keys`)."""
    outputs = {k: dict(v) for k, v in outputs.items()}

    def known(flag: str, key: str) -> None:
        if key not in keys:
            raise UsageError(
                f"{flag} {key}: no output has that key; keys: {', '.join(sorted(keys))}"
            )

    for flag, names, how in (("--shape-only", shape_only, "shape"), ("--skip", skip, "skip")):
        for key in names:
            known(flag, key)
            outputs[key] = {"compare": how, "why": flag}
    for name, given in (("atol", atol_of or {}), ("rtol", rtol_of or {})):
        for key, value in given.items():
            known(f"--{name}", key)
            check = outputs.setdefault(key, {"compare": "values", "why": ""})
            check[name] = float(value)
            told = f"--{name} {key}={value:g}"
            check["why"] = f"{check['why']}, {told}" if check["why"] else told
    return outputs


class Spread:
    """The differences of one output, gathered over any number of batches in bounded
    memory: their count, maximum and sum, and a histogram of 50 bins per decade from 1e-40
    to 1e40 that places the 99th percentile within 5 % (the upper edge of its bin)."""

    PER_DECADE, LOW, HIGH = 50, -40, 40

    def __init__(self) -> None:
        self.bins = np.zeros((self.HIGH - self.LOW) * self.PER_DECADE + 1, np.int64)
        self.count, self.total, self.max = 0, 0.0, 0.0

    def add(self, values: np.ndarray) -> None:
        """`values`: finite, non-negative differences."""
        if not values.size:
            return
        where = np.zeros(values.shape, np.int64)  # bin 0: exactly equal
        positive = values > 0
        logs = np.log10(values[positive])
        where[positive] = 1 + np.clip(
            np.floor((logs - self.LOW) * self.PER_DECADE), 0, len(self.bins) - 2
        ).astype(np.int64)
        self.bins += np.bincount(where, minlength=len(self.bins))
        self.count += int(values.size)
        self.total += float(values.sum())
        self.max = max(self.max, float(values.max()))

    def merge(self, other: Spread) -> None:
        self.bins += other.bins
        self.count += other.count
        self.total += other.total
        self.max = max(self.max, other.max)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    @property
    def p99(self) -> float | None:
        if not self.count:
            return None
        rank = math.ceil(0.99 * self.count)
        at = int(np.searchsorted(np.cumsum(self.bins), rank))
        if at == 0:
            return 0.0
        return min(10.0 ** (self.LOW + at / self.PER_DECADE), self.max)


@dataclass
class OutputCheck:
    key: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    dtype: str | None = None
    shape: list[int] | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    # Float outputs: the 99th percentile and mean of |expected - actual| and of that over
    # |expected| (the relative ones where expected is not 0), how many values were compared
    # and how many were beyond tolerance
    p99_abs_diff: float | None = None
    mean_abs_diff: float | None = None
    p99_rel_diff: float | None = None
    mean_rel_diff: float | None = None
    values: int | None = None
    beyond: int | None = None
    how: str = "values"
    why: str = ""  # why an output is not compared by value, or by its own tolerance
    atol: float | None = None  # the tolerances it was compared with
    rtol: float | None = None
    # The differences behind the figures, to add up batches (`merge`); not in the JSON
    spread: tuple[Spread, Spread] | None = field(default=None, repr=False, compare=False)

    def line(self, atol: float | None = None) -> str:
        mark = "[ok]" if self.ok else "[x] "
        because = f" ({self.why})" if self.why else ""
        if self.how == "skip":
            return f"[--] {self.key}: not compared{because}"
        if self.ok and self.how == "shape":
            return f"{mark} {self.key}: dtype and shape only{because}"
        if self.ok and self.max_abs_diff is not None:
            detail = f"max abs diff {self.max_abs_diff:.2e}"
            if self.max_abs_diff and self.p99_abs_diff is not None:
                detail += f" (p99 {self.p99_abs_diff:.1e}, mean {self.mean_abs_diff:.1e})"
            tol = self.atol if self.atol is not None else atol
            detail += f", max rel diff {self.max_rel_diff:.2e} (atol {tol:g})"
        elif self.ok:
            detail = "identical"
        else:
            detail = "; ".join(self.problems)
        return f"{mark} {self.key}: {detail}"

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "spread"}


@dataclass
class Comparison:
    label: str
    atol: float
    rtol: float
    checks: list[OutputCheck]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def lines(self) -> list[str]:
        return [c.line(self.atol) for c in self.checks]

    def to_json(self) -> dict:
        return {
            "label": self.label,
            "ok": self.ok,
            "atol": self.atol,
            "rtol": self.rtol,
            "outputs": [c.to_json() for c in self.checks],
        }


def compare(
    expected: dict[str, np.ndarray],
    actual: dict[str, np.ndarray],
    *,
    atol: float = DEFAULT_ATOL,
    rtol: float = DEFAULT_RTOL,
    label: str = "",
    outputs: dict[str, dict] | None = None,
) -> Comparison:
    """`outputs`: output key -> {"compare": one of HOW, "why": text[, "atol", "rtol"]} for
    the outputs not compared by value or with tolerances of their own (the manifest's
    `checks.outputs`)."""
    checks = []
    outputs = outputs or {}
    for key in sorted(set(expected) | set(actual)):
        how = outputs.get(key, {}).get("compare", "values")
        why = outputs.get(key, {}).get("why", "")
        a, r = outputs.get(key, {}).get("atol", atol), outputs.get(key, {}).get("rtol", rtol)
        if how == "skip":
            checks.append(OutputCheck(key, True, how=how, why=why))
        elif key not in actual:
            checks.append(OutputCheck(key, False, ["missing from the actual outputs"]))
        elif key not in expected:
            checks.append(OutputCheck(key, False, ["not an expected output"]))
        else:
            exp, act = np.asarray(expected[key]), np.asarray(actual[key])
            if how == "shape":
                check = _shape_only(key, exp, act)
            else:
                check = _compare_one(key, exp, act, a, r)
            check.how, check.why = how, why
            checks.append(check)
    compared = sum(
        int(np.asarray(expected[c.key]).size) for c in checks if c.ok and c.how != "skip"
    )
    if checks and all(c.ok for c in checks) and compared == 0:
        # every output empty (a batch of 0): a pass here would prove nothing
        checks.append(
            OutputCheck(
                NOTHING_COMPARED,
                False,
                ["0 values compared: every output is empty; give inputs with at least one example"],
            )
        )
    return Comparison(label, atol, rtol, checks)


def _compare_one(
    key: str, exp: np.ndarray, act: np.ndarray, atol: float, rtol: float
) -> OutputCheck:
    check = OutputCheck(key, True, dtype=_dtype_name(exp), shape=list(exp.shape))
    check.atol, check.rtol = atol, rtol
    if _dtype_name(exp) != _dtype_name(act):
        check.problems.append(f"dtype {_dtype_name(act)}, expected {_dtype_name(exp)}")
    if exp.shape != act.shape:
        check.problems.append(f"shape {list(act.shape)}, expected {list(exp.shape)}")
    if check.problems:
        check.ok = False
        return check
    if exp.dtype.kind in "OSU" or exp.dtype.kind in "biu":
        differ = int(np.count_nonzero(_as_bytes(exp) != _as_bytes(act))) if exp.size else 0
        if differ:
            check.problems.append(f"{differ} of {exp.size} values differ")
    else:
        _compare_floats(check, exp.astype(np.float64), act.astype(np.float64), atol, rtol)
    check.ok = not check.problems
    return check


def _shape_only(key: str, exp: np.ndarray, act: np.ndarray) -> OutputCheck:
    check = OutputCheck(key, True, dtype=_dtype_name(exp), shape=list(exp.shape))
    if _dtype_name(exp) != _dtype_name(act):
        check.problems.append(f"dtype {_dtype_name(act)}, expected {_dtype_name(exp)}")
    if exp.shape != act.shape:
        check.problems.append(f"shape {list(act.shape)}, expected {list(exp.shape)}")
    check.ok = not check.problems
    return check


def _compare_floats(
    check: OutputCheck, exp: np.ndarray, act: np.ndarray, atol: float, rtol: float
) -> None:
    nan_exp, nan_act = np.isnan(exp), np.isnan(act)
    if np.any(nan_exp != nan_act):
        check.problems.append(
            f"NaN in {int(np.count_nonzero(nan_exp != nan_act))} "
            "position(s) where the other side has none"
        )
    inf_exp, inf_act = np.isinf(exp), np.isinf(act)
    same_inf = (inf_exp == inf_act) & (~inf_exp | (np.sign(exp) == np.sign(act)))
    if not np.all(same_inf):
        check.problems.append(f"Inf differs in {int(np.count_nonzero(~same_inf))} position(s)")
    finite = np.isfinite(exp) & np.isfinite(act)
    diff = np.abs(exp[finite] - act[finite])
    scale = np.abs(exp[finite])
    spread = Spread(), Spread()
    spread[0].add(diff)
    spread[1].add(diff[scale > 0] / scale[scale > 0])
    beyond = int(np.count_nonzero(diff > atol + rtol * scale))
    unscaled = bool(np.any((scale == 0) & (diff > 0)))  # relative to 0: infinite
    _figures(check, spread, beyond, int(exp.size), unscaled)


def _figures(
    check: OutputCheck, spread: tuple[Spread, Spread], beyond: int, size: int, unscaled: bool
) -> None:
    """Sets a float output's figures from its differences, and its problem when values are
    beyond tolerance."""
    absolute, relative = spread
    check.spread, check.values, check.beyond = spread, size, beyond
    check.max_abs_diff = absolute.max
    check.p99_abs_diff, check.mean_abs_diff = absolute.p99, absolute.mean
    check.max_rel_diff = math.inf if unscaled else relative.max
    check.p99_rel_diff, check.mean_rel_diff = relative.p99, relative.mean
    if beyond:
        check.problems.append(
            f"{beyond} of {size} values beyond tolerance: max abs diff "
            f"{absolute.max:.2e}, p99 {absolute.p99:.1e}, mean {absolute.mean:.1e} "
            f"(atol {check.atol:g}, rtol {check.rtol:g})"
        )


class Tally:
    """The comparisons of one signature, batch after batch, folded as they come in bounded
    memory: each output's figures over every value, its leading dimension the sum of the
    batches', and each other problem once, named with the first batch that had it."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.batches: list[Comparison] = []  # the first only: a run of one batch is its own
        self.checks: dict[str, OutputCheck] = {}
        self.seen: dict[str, set[str]] = {}
        self.count = 0

    def add(self, comparison: Comparison, number: int) -> None:
        self.count += 1
        if not self.batches:
            self.batches.append(comparison)
        for c in comparison.checks:
            acc = self.checks.get(c.key)
            if acc is None:
                acc = self.checks[c.key] = OutputCheck(
                    c.key, True, dtype=c.dtype, how=c.how, why=c.why, atol=c.atol, rtol=c.rtol
                )
                acc.shape = list(c.shape) if c.shape is not None else None
                acc.values = acc.beyond = 0
                self.seen[c.key] = set()
            elif acc.shape and c.shape and len(acc.shape) == len(c.shape):
                acc.shape[0] += c.shape[0]
            for problem in c.problems:
                kind = re.sub(r"[0-9.e+-]+", "#", problem)
                if " values beyond tolerance" not in problem and kind not in self.seen[c.key]:
                    self.seen[c.key].add(kind)
                    acc.problems.append(f"batch {number}: {problem}")
            if c.spread is not None:
                if acc.spread is None:
                    acc.spread = Spread(), Spread()
                acc.spread[0].merge(c.spread[0])
                acc.spread[1].merge(c.spread[1])
                acc.values += c.values or 0
                acc.beyond += c.beyond or 0
                if c.max_rel_diff == math.inf:
                    acc.max_rel_diff = math.inf

    def result(self) -> Comparison:
        """The comparison of every batch so far (a single batch's as it was)."""
        if self.count == 1:
            return self.batches[0]
        checks = []
        for acc in self.checks.values():
            check = replace(acc, problems=list(acc.problems))
            if acc.spread is not None:
                unscaled = acc.max_rel_diff == math.inf
                _figures(check, acc.spread, acc.beyond, acc.values, unscaled)
            check.ok = not check.problems
            checks.append(check)
        first = self.batches[0]
        return Comparison(self.label, first.atol, first.rtol, checks)


def merge(label: str, parts: list[Comparison]) -> Comparison:
    """One comparison of the batches `parts` (of one signature, in order): see Tally."""
    tally = Tally(label)
    for number, part in enumerate(parts, 1):
        tally.add(part, number)
    return tally.result()


def _dtype_name(a: np.ndarray) -> str:
    return "string" if a.dtype.kind in "OSU" else a.dtype.name


def _as_bytes(a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "U":
        return np.char.encode(a, "utf-8")
    if a.dtype.kind == "O":
        return np.array(
            [s.encode() if isinstance(s, str) else bytes(s) for s in a.ravel()], dtype=object
        ).reshape(a.shape)
    return a
