"""Card rendering: the ``README.md`` of a dataset repo, re-rendered from its front matter on every publish.

The front matter is what machines read (the Hub's ``configs``; the ``kinject`` section that ``reproduce`` reads);
the body is what a person reads, rendered by ``templates/dataset_card.md.jinja2`` from that same front matter,
so the two never disagree.

``kinject`` section keys: ``toolkit`` (version, git_sha), ``configs`` (per config: the provenance the stage passed —
recipe, seed_revision, generator, prompts, sampling, selection, tokens, exposures …), ``rows`` (per config and
split), ``results`` (per run name).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import jinja2
import yaml

_TEMPLATES = Path(__file__).parent / "templates"


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _cell
    return env


def _cell(value: Any) -> str:
    """A value as one Markdown table cell."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        value = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10_000).strip()
    return str(value).replace("|", "\\|").replace("\n", " ")


def _exposure_summary(entry: dict) -> dict | None:
    """min / median / max exposures per fact from a config's provenance (``exposures: {fact_key: count}``)."""
    exposures = entry.get("exposures")
    if not isinstance(exposures, dict) or not exposures:
        return None
    counts = [v for v in exposures.values() if isinstance(v, (int, float))]
    if not counts:
        return None
    return {
        "facts": len(counts),
        "min": min(counts),
        "median": statistics.median(counts),
        "max": max(counts),
        "zero": sum(1 for c in counts if c == 0),
    }


def _results_table(results: dict) -> tuple[list[str], list[dict]]:
    """Scalar columns shared by the result runs (nested values such as curves stay in the front matter)."""
    columns: list[str] = []
    for run in results.values():
        for key, value in (run or {}).items() if isinstance(run, dict) else []:
            if not isinstance(value, (dict, list)) and key not in columns:
                columns.append(key)
    return columns, [{"run": name, **(run if isinstance(run, dict) else {"value": run})} for name, run in results.items()]


def render_body(repo_id: str, front: dict, paths: set[str], revision: str = "main") -> str:
    """The Markdown body a person reads."""
    kin = front.get("kinject") or {}
    configs = [c["config_name"] for c in front.get("configs") or []]
    provenance = kin.get("configs") or {}
    rows = kin.get("rows") or {}
    results = kin.get("results") or {}
    columns, result_rows = _results_table(results)
    per_config = []
    for name in configs:
        entry = provenance.get(name) or {}
        per_config.append(
            {
                "name": name,
                "entry": entry,
                "rows": rows.get(name) or {},
                "exposures": _exposure_summary(entry),
                "details": {k: v for k, v in entry.items() if k not in ("exposures", "description")},
                "files": sorted(p for p in paths if p.startswith(f"provenance/{name}/")),
            }
        )
    curves = {run: f"results/{run}/curve.png" for run in results if f"results/{run}/curve.png" in paths}
    default = "seeds" if "seeds" in configs else (configs[0] if configs else "default")
    return _env().get_template("dataset_card.md.jinja2").render(
        repo_id=repo_id,
        pretty_name=front.get("pretty_name") or repo_id,
        revision=revision,
        default_config=default,
        configs=per_config,
        toolkit=kin.get("toolkit") or {},
        results=result_rows,
        result_columns=columns,
        curves=curves,
    )


def render_card(repo_id: str, front: dict, paths: set[str], revision: str = "main") -> str:
    """Full ``README.md``: YAML front matter that ``huggingface_hub.DatasetCard`` parses, then the body.

    The card cannot name its own commit sha, so the load snippet uses ``revision`` (the tag being published, else
    ``main``); ``kinject card REPO@REV`` re-renders it with the resolved sha.
    """
    matter = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=10_000)
    return f"---\n{matter}---\n\n{render_body(repo_id, front, paths, revision)}"
