"""kinject's benchmarks: ``python -m benchmarks [--quick] [--only NAME]`` (``make bench``).

Each module here exposes ``run(quick: bool = False) -> list[dict]``; every dict is one figure with the keys of
``FIELDS``. The harness (``__main__``) discovers the modules, runs them and writes ``results.json`` and
``results.md`` beside this file, each figure beside its target.
"""

FIELDS = ("name", "value", "unit", "target", "baseline", "ratio", "ok", "note")


def figure(
    name: str,
    value: float,
    unit: str,
    *,
    target: float | None = None,
    baseline: float | None = None,
    higher_is_better: bool = True,
    note: str = "",
) -> dict:
    """One result row. ``ratio`` is value/baseline when a baseline was measured side by side, else None;
    ``ok`` compares the value with the target (None when there is no target)."""
    ratio = value / baseline if baseline else None
    if target is None:
        ok = None
    else:
        ok = bool(value >= target) if higher_is_better else bool(value <= target)
    return {
        "name": name,
        "value": value,
        "unit": unit,
        "target": target,
        "baseline": baseline,
        "ratio": ratio,
        "ok": ok,
        "note": note,
    }
