"""The one output comparison every check uses: export verification and Python/Java parity.

Names first, then dtypes and shapes, then values (NaN and Inf in the same places, the rest
within atol + rtol * |expected|). Every failure is collected before the verdict."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from exporter.errors import UsageError

DEFAULT_ATOL = 1e-5
DEFAULT_RTOL = 1e-5
NOTHING_COMPARED = "(all outputs)"  # the check a comparison of no values fails
# How an output is compared (the manifest's `checks`): its values (the default), its dtype
# and shape only (an output of unseeded random ops, `--shape-only`), or not at all (`--skip`).
HOW = ("values", "shape", "skip")


def by_hand(outputs: dict[str, dict], keys: set[str], skip=(), shape_only=()) -> dict[str, dict]:
    """`outputs` (key -> {"compare", "why"}) with the outputs `--shape-only` and `--skip`
    name. Raises UsageError for a key no output has (`keys`)."""
    outputs = dict(outputs)
    for flag, names, how in (("--shape-only", shape_only, "shape"), ("--skip", skip, "skip")):
        for key in names:
            if key not in keys:
                raise UsageError(
                    f"{flag} {key}: no output has that key; keys: {', '.join(sorted(keys))}"
                )
            outputs[key] = {"compare": how, "why": flag}
    return outputs


@dataclass
class OutputCheck:
    key: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    dtype: str | None = None
    shape: list[int] | None = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    how: str = "values"
    why: str = ""  # why an output is not compared by value

    def line(self, atol: float) -> str:
        mark = "[ok]" if self.ok else "[x] "
        because = f" ({self.why})" if self.why else ""
        if self.how == "skip":
            return f"[--] {self.key}: not compared{because}"
        if self.ok and self.how == "shape":
            return f"{mark} {self.key}: dtype and shape only{because}"
        if self.ok and self.max_abs_diff is not None:
            detail = (
                f"max abs diff {self.max_abs_diff:.2e}, max rel diff "
                f"{self.max_rel_diff:.2e} (atol {atol:g})"
            )
        elif self.ok:
            detail = "identical"
        else:
            detail = "; ".join(self.problems)
        return f"{mark} {self.key}: {detail}"


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
            "outputs": [asdict(c) for c in self.checks],
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
    """`outputs`: output key -> {"compare": one of HOW, "why": text} for the outputs not
    compared by value (the manifest's `checks.outputs`)."""
    checks = []
    outputs = outputs or {}
    for key in sorted(set(expected) | set(actual)):
        how = outputs.get(key, {}).get("compare", "values")
        why = outputs.get(key, {}).get("why", "")
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
                check = _compare_one(key, exp, act, atol, rtol)
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
    if np.any(finite):
        diff = np.abs(exp[finite] - act[finite])
        scale = np.abs(exp[finite])
        check.max_abs_diff = float(diff.max())
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(scale > 0, diff / scale, np.where(diff > 0, np.inf, 0.0))
        check.max_rel_diff = float(rel.max())
        bad = int(np.count_nonzero(diff > atol + rtol * scale))
        if bad:
            check.problems.append(
                f"{bad} of {exp.size} values beyond tolerance: max abs diff "
                f"{check.max_abs_diff:.2e} (atol {atol:g}, rtol {rtol:g})"
            )
    else:
        check.max_abs_diff = check.max_rel_diff = 0.0


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
