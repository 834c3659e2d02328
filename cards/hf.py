"""The Hugging Face Hub registry (``registry: {kind: hf}``): the same repo layout, pushed with ``huggingface_hub``.

A publish is one ``create_commit`` on ``main`` (adds, plus deletes for the folders of replaced configs, with
``parent_commit`` so a concurrent publish fails instead of being overwritten), then ``create_tag``. Loading goes
through ``datasets.load_dataset(repo, config, revision=sha)``. The token is whatever ``huggingface_hub`` finds
(``HF_TOKEN`` or the saved login); kinject never reads, passes or writes it.
"""

from __future__ import annotations

from pathlib import Path

import datasets
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from kinject.cards.layout import CARD_PATH, configs_of, plan_publish, split_front_matter
from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError

BRANCH = "main"
REPO_TYPE = "dataset"


class HfRegistry:
    """Dataset repos on the Hub (or any endpoint ``HF_ENDPOINT`` names)."""

    def __init__(self, private: bool = True, endpoint: str | None = None) -> None:
        self.private = private
        self.api = HfApi(endpoint=endpoint)

    def _head(self, repo_id: str) -> str | None:
        try:
            return self.api.repo_info(repo_id, repo_type=REPO_TYPE, revision=BRANCH).sha
        except RevisionNotFoundError:  # a freshly created repo has no main yet
            return None

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
        """Add or replace configs in ONE Hub commit (optionally tagged); see ``Registry.publish``."""
        DatasetRef.parse(repo_id)
        self.api.create_repo(repo_id, repo_type=REPO_TYPE, private=self.private, exist_ok=True)
        parent = self._head(repo_id)
        if tag is not None and tag in {t.name for t in self.api.list_repo_refs(repo_id, repo_type=REPO_TYPE).tags}:
            raise KinjectUserError(f"{repo_id}@{tag} already exists; tags name milestones and are never moved")
        existing = set(self.api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=parent)) if parent else set()
        previous = self._front(repo_id, parent) if CARD_PATH in existing else {}
        plan = plan_publish(
            repo_id, previous, tables, provenance=provenance, results=results, files=files,
            existing_paths=existing, tag=tag,
        )
        # create_commit, not upload_folder: with hf_xet installed, upload_folder streams large folders as several
        # commits, and a publish must be exactly one.
        operations = [
            CommitOperationDelete(path_in_repo=path)
            for path in sorted(existing)
            if not plan.keeps(path) and path not in plan.files
        ] + [CommitOperationAdd(path_in_repo=path, path_or_fileobj=content) for path, content in plan.files.items()]
        info = self.api.create_commit(
            repo_id,
            operations,
            commit_message=message,
            repo_type=REPO_TYPE,
            revision=BRANCH,
            parent_commit=parent,  # a concurrent publish makes this one fail instead of silently losing its change
        )
        sha = info.oid
        if tag is not None:
            self.api.create_tag(repo_id, tag=tag, revision=sha, tag_message=message, repo_type=REPO_TYPE)
        return DatasetRef(repo_id=repo_id, revision=sha)

    def publish_model(self, repo_id: str, folder: Path, *, message: str, tag: str | None = None) -> DatasetRef:
        """Every file of ``folder`` as one commit of model repo ``repo_id`` (replacing the previous tree)."""
        DatasetRef.parse(repo_id)
        self.api.create_repo(repo_id, repo_type="model", private=self.private, exist_ok=True)
        files = sorted(p for p in Path(folder).rglob("*") if p.is_file())
        operations = [CommitOperationAdd(path_in_repo=p.relative_to(folder).as_posix(), path_or_fileobj=str(p))
                      for p in files]
        info = self.api.create_commit(repo_id, operations, commit_message=message, repo_type="model", revision=BRANCH)
        if tag is not None:
            self.api.create_tag(repo_id, tag=tag, revision=info.oid, tag_message=message, repo_type="model")
        return DatasetRef(repo_id=repo_id, revision=info.oid)

    def model_dir(self, ref: DatasetRef) -> Path:
        """The model repo's files at ``ref`` in the Hub cache (``from_pretrained`` reads the folder)."""
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(ref.repo_id, revision=ref.revision, endpoint=self.api.endpoint))
        except (RepositoryNotFoundError, RevisionNotFoundError):
            raise KinjectUserError(f"{ref}: no such model repo or revision on the Hub (or no access)") from None

    def resolve(self, ref: DatasetRef) -> str:
        try:
            return self.api.repo_info(ref.repo_id, repo_type=REPO_TYPE, revision=ref.revision).sha
        except RevisionNotFoundError:
            raise KinjectUserError(f"{ref}: no such revision (`kinject log {ref.repo_id}` lists them)") from None
        except RepositoryNotFoundError:
            raise KinjectUserError(f"{ref.repo_id}: no such dataset repo on the Hub (or no access)") from None

    def _download(self, repo_id: str, sha: str, path: str) -> str:
        return hf_hub_download(repo_id, path, repo_type=REPO_TYPE, revision=sha, endpoint=self.api.endpoint)

    def _front(self, repo_id: str, sha: str) -> dict:
        return split_front_matter(Path(self._download(repo_id, sha, CARD_PATH)).read_text(encoding="utf-8"))[0]

    def read_file(self, ref: DatasetRef, path: str) -> str:
        sha = self.resolve(ref)
        try:
            return Path(self._download(ref.repo_id, sha, path)).read_text(encoding="utf-8")
        except EntryNotFoundError:
            raise KinjectUserError(f"{ref.repo_id}@{sha[:7]} has no file {path!r}") from None

    def list_files(self, ref: DatasetRef) -> list[str]:
        return sorted(self.api.list_repo_files(ref.repo_id, repo_type=REPO_TYPE, revision=self.resolve(ref)))

    def card_data(self, ref: DatasetRef) -> dict:
        try:
            return self._front(ref.repo_id, self.resolve(ref))
        except EntryNotFoundError:
            return {}

    def configs(self, ref: DatasetRef) -> list[str]:
        return configs_of(self.card_data(ref))

    def load(self, ref: DatasetRef, config: str, split: str = "train") -> datasets.Dataset:
        sha = self.resolve(ref)
        have = self.configs(DatasetRef(repo_id=ref.repo_id, revision=sha))
        if config not in have:
            raise KinjectUserError(f"{ref.repo_id}@{sha[:7]} has no config {config!r} (has: {', '.join(have) or 'none'})")
        try:
            return datasets.load_dataset(ref.repo_id, config, revision=sha, split=split)
        except ValueError as exc:  # datasets' message for an unknown split lists the ones it has
            raise KinjectUserError(f"{ref.repo_id}@{sha[:7]} config {config!r}: {exc}") from None

    def log(self, repo_id: str) -> list[dict]:
        try:
            commits = self.api.list_repo_commits(repo_id, repo_type=REPO_TYPE, revision=BRANCH)
            refs = self.api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
        except RepositoryNotFoundError:
            raise KinjectUserError(f"{repo_id}: no such dataset repo on the Hub (or no access)") from None
        tags: dict[str, list[str]] = {}
        for t in refs.tags:
            tags.setdefault(t.target_commit, []).append(t.name)
        out = []
        for commit in commits:
            try:
                configs = configs_of(self._front(repo_id, commit.commit_id))
            except EntryNotFoundError:
                configs = []
            out.append(
                {"sha": commit.commit_id, "date": commit.created_at.isoformat(), "message": commit.title,
                 "tags": sorted(tags.get(commit.commit_id, [])), "configs": configs}
            )
        return out
