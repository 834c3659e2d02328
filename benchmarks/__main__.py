"""Run every benchmark of the project and write one JSON and one markdown table, each figure beside its target.

    python -m benchmarks [--quick] [--only NAME ...] [--out DIR] [--threads N]

A benchmark is a module ``benchmarks/<name>.py`` exposing ``run(quick: bool = False) -> list[dict]`` (rows built
with ``benchmarks.figure``). Modules are discovered, not listed, so a new one needs no edit here. A module that
crashes becomes one row with ``ok: false`` and the error, and the exit code is 1; a missed target is reported, not
fatal (timings on a shared machine are noisy). Ratios compare figures measured side by side in the same run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def discover() -> list[str]:
    return sorted(
        p.stem for p in HERE.glob("*.py") if not p.stem.startswith("_") and p.stem not in {"conftest"}
    )


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def to_markdown(rows: list[dict], meta: dict) -> str:
    lines = [
        "# kinject benchmarks",
        "",
        f"{meta['date']} · git {meta['git_sha'][:10]} · {meta['machine']} · OMP_NUM_THREADS={meta['omp_num_threads']}"
        + (" · quick" if meta["quick"] else ""),
        "",
        "| benchmark | figure | value | unit | target | baseline | ratio | ok | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = [row.get("module", "")] + [_fmt(row.get(k)) for k in
                                           ("name", "value", "unit", "target", "baseline", "ratio", "ok", "note")]
        lines.append("| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _git_sha() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=HERE.parent, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Tiny sizes: checks the harness, not the figures.")
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"Modules to run (of: {', '.join(discover())}).")
    parser.add_argument("--out", type=Path, default=HERE, help="Folder for results.json and results.md.")
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS for every benchmark.")
    args = parser.parse_args(argv)

    # Set before any benchmark imports torch: thread count changes every CPU figure, so it is fixed and recorded.
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    names = discover()
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have: {', '.join(names)}")
    selected = [n for n in names if not args.only or n in args.only]

    rows: list[dict] = []
    crashed = False
    for name in selected:
        print(f"== {name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            if not hasattr(module, "run"):
                raise TypeError(f"benchmarks/{name}.py has no run(quick=False) function")
            module_rows = module.run(quick=args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            crashed = True
            traceback.print_exc()
            module_rows = [{"name": "crashed", "value": None, "unit": "", "target": None, "baseline": None,
                            "ratio": None, "ok": False,
                            "note": f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[-1]}"}]
        for row in module_rows:
            rows.append({"module": name, **row})
        print(f"   {len(module_rows)} figure(s) in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "git_sha": _git_sha(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "omp_num_threads": args.threads,
        "quick": args.quick,
        "modules": selected,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    markdown = to_markdown(rows, meta)
    (args.out / "results.md").write_text(markdown)
    print(markdown)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
