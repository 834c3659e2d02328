"""The dataset-repo layout both registries write: the files of one publish, computed from the previous revision.

A repo is laid out exactly as a Hub dataset repo::

    README.md                                   card: YAML front matter (configs, kinject provenance) + body
    data/<config>/<split>-00000-of-00001.parquet
    provenance/<config>/recipe.yaml             files the caller passes (recipe, distilabel pipeline.yaml, stats)
    results/<run>/...                           e.g. curve.png

``plan_publish`` is pure (no git, no network): it takes what the previous revision's card says and returns the
files to write and the folders to drop, so the local and Hub registries publish the same tree.
"""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path, PurePath
from typing import Any, Mapping

import datasets
import yaml

import kinject
from kinject.errors import KinjectUserError

CARD_PATH = "README.md"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
# datasets only accepts split names matching this (see datasets.splits.NamedSplit).
_SPLIT = re.compile(r"^\w+(\.\w+)*$")
# Environment variables whose values must never land in a published file.
_SECRET_ENV = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.I)
_MIN_SECRET_LEN = 8  # shorter values ("1", "true") would match by accident


def data_path(config: str, split: str) -> str:
    return f"data/{config}/{split}-00000-of-00001.parquet"


def data_glob(config: str, split: str) -> str:
    return f"data/{config}/{split}-*"


def split_front_matter(text: str) -> tuple[dict, str]:
    """``README.md`` text → (front matter dict, body). A card without front matter gives ``{}``."""
    match = re.match(r"^---\s*\n(.*?)\n---\s*\n?(.*)$", text, flags=re.S)
    if not match:
        return {}, text
    return yaml.safe_load(match.group(1)) or {}, match.group(2)


def plain(value: Any) -> Any:
    """Provenance → YAML-safe plain types, so ``card_data(ref)["kinject"]`` round-trips what was published."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "model_dump"):  # pydantic models (recipe sections)
        return plain(value.model_dump(mode="json"))
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def toolkit_info() -> dict:
    """kinject version and, in a git checkout, its commit (``-dirty`` when the checkout has local changes)."""
    info = {"version": kinject.__version__, "git_sha": None}
    checkout = Path(kinject.__file__).resolve().parent.parent
    if (checkout / ".git").exists():
        try:
            run = lambda *a: subprocess.run(  # noqa: E731
                ["git", "-C", str(checkout), *a], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            sha = run("rev-parse", "HEAD")
            info["git_sha"] = sha + ("-dirty" if run("status", "--porcelain", "--untracked-files=no") else "")
        except (OSError, subprocess.SubprocessError):
            pass
    return info


def check_secrets(files: Mapping[str, bytes]) -> None:
    """Refuse to publish a file holding the value of a secret-looking environment variable (tokens, API keys).

    The message names the file and the variable, never the value.
    """
    secrets = {
        name: value.encode()
        for name, value in os.environ.items()
        if _SECRET_ENV.search(name) and len(value) >= _MIN_SECRET_LEN
    }
    for path, content in files.items():
        for name, value in secrets.items():
            if value in content:
                raise KinjectUserError(
                    f"{path}: holds the value of ${name}; secrets are read from the environment and never "
                    "published — remove it from the provenance or files you pass"
                )


def _parquet_bytes(dataset: datasets.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.to_parquet(buffer)
    return buffer.getvalue()


@dataclass
class PublishPlan:
    """What one publish writes: files (path → bytes, the card included) and folders removed first."""

    files: dict[str, bytes]
    drop_prefixes: list[str] = field(default_factory=list)
    card_data: dict = field(default_factory=dict)

    def keeps(self, path: str) -> bool:
        """Whether a file of the previous revision survives into the new one (unless overwritten)."""
        return not any(path.startswith(prefix) for prefix in self.drop_prefixes)


def plan_publish(
    repo_id: str,
    previous: dict,
    tables: Mapping[str, Mapping[str, datasets.Dataset]],
    *,
    provenance: Mapping[str, Mapping] | None,
    results: Mapping | None,
    files: Mapping[str, str | bytes] | None,
    existing_paths: set[str] | None = None,
    tag: str | None = None,
) -> PublishPlan:
    """The files of a new revision: ``tables`` add or replace configs, other configs and their provenance stay.

    ``previous`` is the previous revision's front matter (``{}`` for a new repo). ``existing_paths`` (the files of
    the previous revision, when known) lets the card link a results curve published earlier.
    """
    from kinject.cards.card import render_card

    if not tables and not provenance and not results and not files:
        raise KinjectUserError(f"{repo_id}: nothing to publish (no tables, results or files)")
    provenance = dict(provenance or {})
    for name in list(tables) + list(provenance):
        if not _NAME.match(name):
            raise KinjectUserError(f"{repo_id}: config name {name!r} must be letters, digits, '-' or '_'")
    unknown = set(provenance) - set(tables) - set(_configs(previous))
    if unknown:
        raise KinjectUserError(f"{repo_id}: provenance for config(s) {sorted(unknown)} that are not published")

    kin = plain(previous.get("kinject") or {})
    configs = {c["config_name"]: c for c in previous.get("configs") or []}
    kin_configs, rows = dict(kin.get("configs") or {}), dict(kin.get("rows") or {})
    out: dict[str, bytes] = {}
    drop: list[str] = []
    for config, splits in tables.items():
        if not splits:
            raise KinjectUserError(f"{repo_id}: config {config!r} has no splits")
        drop += [f"data/{config}/", f"provenance/{config}/"]
        data_files = []
        rows[config] = {}
        for split, dataset in splits.items():
            if not _SPLIT.match(split):
                raise KinjectUserError(f"{repo_id}: config {config!r}: bad split name {split!r}")
            if not isinstance(dataset, datasets.Dataset):
                raise TypeError(f"{config}/{split}: expected datasets.Dataset, got {type(dataset).__name__}")
            out[data_path(config, split)] = _parquet_bytes(dataset)
            data_files.append({"split": split, "path": data_glob(config, split)})
            rows[config][split] = dataset.num_rows
        configs[config] = {"config_name": config, "data_files": data_files}
        kin_configs[config] = {}  # republished data: its old provenance no longer describes it
    for config, entry in provenance.items():
        kin_configs[config] = plain(entry)
    if results:
        # a retrained run moves to the end: the last entry is the last run recorded (`reproduce`'s default)
        earlier = {run: entry for run, entry in (kin.get("results") or {}).items() if run not in results}
        kin["results"] = {**earlier, **plain(results)}
    for path, content in (files or {}).items():
        if path == CARD_PATH or path.startswith("data/") or path.startswith("/") or ".." in path.split("/"):
            raise KinjectUserError(f"{repo_id}: files: {path!r} is reserved or outside the repo")
        out[path] = content.encode() if isinstance(content, str) else bytes(content)

    kin.update(toolkit=toolkit_info(), configs=kin_configs, rows=rows)
    kin.setdefault("results", {})
    front = {k: v for k, v in previous.items() if k not in ("configs", "kinject")}
    front.setdefault("pretty_name", repo_id.split("/", 1)[1])
    front["configs"] = sorted(configs.values(), key=lambda c: c["config_name"])
    front["kinject"] = kin
    paths = {p for p in (existing_paths or set()) if not any(p.startswith(d) for d in drop)} | set(out)
    out[CARD_PATH] = render_card(repo_id, front, paths, revision=tag or "main").encode()
    check_secrets(out)
    return PublishPlan(files=out, drop_prefixes=drop, card_data=front)


def _configs(front: dict) -> list[str]:
    return [c["config_name"] for c in front.get("configs") or []]


def configs_of(front: dict) -> list[str]:
    """Config names listed in a card's front matter."""
    return _configs(front)
