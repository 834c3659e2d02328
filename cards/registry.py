"""Where dataset repos live: ``open_registry(cfg)`` returns the local git registry or the Hugging Face Hub.

Every stage publishes through this one interface, so a corpus, a subset and a result are each a dataset repo at a
revision, whichever registry the recipe names::

    registry = open_registry(recipe.registry)
    ref = registry.publish("kinject/cpu-ja", {"seeds": {"train": ds}}, message="seeds", tag="v1")
    rows = registry.load(ref, "seeds")            # exactly that revision's rows
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

import datasets

from kinject.cards.refs import DatasetRef
from kinject.recipes.schema import RegistryConfig


@runtime_checkable
class Registry(Protocol):
    """A store of Hub-style dataset repos addressed by ``repo@revision`` (commit sha, tag or branch)."""

    def publish(
        self,
        repo_id: str,
        tables: dict[str, dict[str, datasets.Dataset]],
        *,
        provenance: dict[str, dict] | None = None,
        results: dict | None = None,
        files: dict[str, str | bytes] | None = None,
        message: str,
        tag: str | None = None,
    ) -> DatasetRef:
        """Add or replace ``tables`` ({config: {split: Dataset}}) in ONE commit, keeping the other configs.

        ``provenance[config]`` replaces that config's ``kinject.configs.<config>`` card entry; ``results`` merges
        into ``kinject.results`` (keys are run names); ``files`` are extra files (``provenance/<config>/recipe.yaml``,
        ``results/<run>/curve.png``). The card is re-rendered. Returns ``repo@<full commit sha>``.
        """

    def load(self, ref: DatasetRef, config: str, split: str = "train") -> datasets.Dataset:
        """The rows of ``config``/``split`` at exactly ``ref``'s revision."""

    def configs(self, ref: DatasetRef) -> list[str]:
        """Config names at ``ref``."""

    def card_data(self, ref: DatasetRef) -> dict:
        """The card's parsed front matter at ``ref`` (``["kinject"]`` is what was published, as plain data)."""

    def resolve(self, ref: DatasetRef) -> str:
        """The full commit sha ``ref`` names."""

    def read_file(self, ref: DatasetRef, path: str) -> str:
        """A text file of the repo at ``ref`` (e.g. ``provenance/<config>/recipe.yaml``)."""

    def list_files(self, ref: DatasetRef) -> list[str]:
        """Every file path of the repo at ``ref``."""

    def log(self, repo_id: str) -> list[dict]:
        """Revisions, newest first: ``{sha, date, message, tags, configs}``."""

    def publish_model(self, repo_id: str, folder: Path, *, message: str, tag: str | None = None) -> DatasetRef:
        """Every file of ``folder`` (weights, tokenizer, card) as one commit of *model* repo ``repo_id``."""

    def model_dir(self, ref: DatasetRef) -> Path:
        """A local folder holding the model repo's files at ``ref``."""


def open_registry(cfg: RegistryConfig) -> Registry:
    """The registry a recipe's ``registry`` section names (``kind: local`` is the offline default)."""
    if cfg.kind == "local":
        from kinject.cards.local import LocalRegistry

        return LocalRegistry(cfg.root, cfg.cache_dir)
    if cfg.kind == "hf":
        from kinject.cards.hf import HfRegistry

        return HfRegistry(private=cfg.private)
    raise ValueError(f"unknown registry kind {cfg.kind!r}")
