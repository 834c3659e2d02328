"""The local registry (the embedded default): one bare git repository per dataset repo, laid out as on the Hub.

``<root>/datasets/<org>/<name>`` is the layout olah's ``mirrors-path`` serves, so stock Hub clients read it through
``kinject hub serve``. The repos are bare: a publish never touches a working copy, so there is none to leave
half-written. A publish builds the new tree with git plumbing in a throwaway index (``hash-object`` → ``update-index``
→ ``write-tree`` → ``commit-tree``) and then moves ``main`` (and creates the tag) in one ``update-ref``
transaction: killed or failing at any point before it, the previous revision is untouched; unreferenced objects are
what ``git gc`` collects.

Loading materialises a revision once per sha under ``<cache_dir>/<org>/<name>/<sha>/`` (``git archive``, written
aside and renamed), because ``datasets.load_dataset`` on a local path ignores ``revision=``.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import datasets
import pyarrow.parquet as pq

from kinject.cards.layout import CARD_PATH, configs_of, plan_publish, split_front_matter
from kinject.cards.refs import DatasetRef
from kinject.errors import KinjectUserError

BRANCH = "main"
# Fixed identity unless the user's environment sets one: commits must not depend on a global git config.
_IDENTITY = {
    "GIT_AUTHOR_NAME": "kinject",
    "GIT_AUTHOR_EMAIL": "kinject@localhost",
    "GIT_COMMITTER_NAME": "kinject",
    "GIT_COMMITTER_EMAIL": "kinject@localhost",
}


class LocalRegistry:
    """Dataset repos as bare git repositories under ``root/datasets/``; revisions materialised under ``cache_dir``."""

    def __init__(self, root: str | os.PathLike, cache_dir: str | os.PathLike) -> None:
        self.root = Path(root).expanduser().resolve()
        self.cache_dir = Path(cache_dir).expanduser().resolve()

    # ------------------------------------------------------------------ git

    def repo_path(self, repo_id: str, kind: str = "datasets") -> Path:
        DatasetRef.parse(repo_id)  # validates <org>/<name>
        return self.root / kind / repo_id

    def _git(self, repo: Path, *args: str, input: bytes | None = None, env: dict | None = None) -> str:
        # Drop inherited GIT_* (a hook's GIT_DIR/GIT_INDEX_FILE would redirect us into another repository).
        base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        base.update({k: os.environ.get(k, v) for k, v in _IDENTITY.items()})
        base.update(GIT_DIR=str(repo), **(env or {}))
        done = subprocess.run(["git", *args], input=input, env=base, capture_output=True, check=False)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, ["git", *args], done.stdout, done.stderr)
        return done.stdout.decode()

    def _existing(self, repo_id: str, kind: str = "datasets") -> Path:
        repo = self.repo_path(repo_id, kind)
        if not (repo / "HEAD").is_file():
            have = sorted(str(p.relative_to(self.root / kind)) for p in self.root.glob(f"{kind}/*/*"))
            raise KinjectUserError(
                f"{repo_id}: no such {kind[:-1]} repo in the local registry {self.root} "
                f"(has: {', '.join(have) or 'none'}); publish to it first"
            )
        return repo

    def _ensure_repo(self, repo_id: str, kind: str = "datasets") -> Path:
        repo = self.repo_path(repo_id, kind)
        if (repo / "HEAD").is_file():
            return repo
        repo.parent.mkdir(parents=True, exist_ok=True)
        # Initialised aside and renamed, so a concurrent publisher never sees a half-initialised repository.
        tmp = Path(tempfile.mkdtemp(prefix=f".{repo.name}.init-", dir=repo.parent))
        try:
            subprocess.run(["git", "init", "-q", "--bare", "-b", BRANCH, str(tmp)], check=True, capture_output=True)
            os.rename(tmp, repo)
        except OSError:
            if not (repo / "HEAD").is_file():
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return repo

    @contextlib.contextmanager
    def _locked(self, repo: Path):
        """One publisher per repo at a time. flock on the repo directory itself: no lock file to leave behind."""
        fd = os.open(repo, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock, also when the process dies

    def _head(self, repo: Path) -> str | None:
        try:
            return self._git(repo, "rev-parse", "--verify", "--quiet", f"refs/heads/{BRANCH}").strip() or None
        except subprocess.CalledProcessError:
            return None

    def _tree(self, repo: Path, sha: str) -> dict[str, tuple[str, str]]:
        """path → (mode, blob sha) of every file at ``sha``."""
        entries = {}
        for line in self._git(repo, "ls-tree", "-r", "-z", sha).split("\0"):
            if line:
                meta, path = line.split("\t", 1)
                mode, _, blob = meta.split(" ")
                entries[path] = (mode, blob)
        return entries

    # ------------------------------------------------------------------ publish

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
        """Add or replace configs in ONE commit on ``main`` (optionally tagged); see ``Registry.publish``."""
        if not message.strip():
            raise KinjectUserError(f"{repo_id}: a publish needs a commit message")
        repo = self._ensure_repo(repo_id)
        with self._locked(repo):
            parent = self._head(repo)
            if tag is not None:
                self._check_new_tag(repo, repo_id, tag)
            entries = self._tree(repo, parent) if parent else {}
            previous = split_front_matter(self._show(repo, parent, CARD_PATH))[0] if CARD_PATH in entries else {}
            plan = plan_publish(
                repo_id, previous, tables, provenance=provenance, results=results, files=files,
                existing_paths=set(entries), tag=tag,
            )
            entries = {path: entry for path, entry in entries.items() if plan.keeps(path)}
            commit = self._commit(repo, entries, plan.files, parent, message, tag)
        return DatasetRef(repo_id=repo_id, revision=commit)

    def _commit(
        self, repo: Path, entries: dict[str, tuple[str, str]], files: dict[str, str | bytes], parent: str | None,
        message: str, tag: str | None,
    ) -> str:
        """Write ``files`` over ``entries`` as one commit on ``main`` (and ``tag``); the caller holds the lock."""
        entries = dict(entries)
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            entries[path] = ("100644", self._git(repo, "hash-object", "-w", "--stdin", input=data).strip())
        with tempfile.TemporaryDirectory(prefix="kinject-publish-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            index_info = "".join(f"{mode} {blob}\t{path}\0" for path, (mode, blob) in sorted(entries.items()))
            self._git(repo, "update-index", "--add", "-z", "--index-info", input=index_info.encode(), env=env)
            tree = self._git(repo, "write-tree", env=env).strip()
        commit = self._git(repo, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", message).strip()
        # The only visible step: main (and the tag) move together, or not at all.
        updates = f"start\nupdate refs/heads/{BRANCH} {commit} {parent or '0' * 40}\n"
        if tag is not None:
            updates += f"create refs/tags/{tag} {commit}\n"
        self._git(repo, "update-ref", "--stdin", input=(updates + "prepare\ncommit\n").encode())
        return commit

    # ------------------------------------------------------------------ model repos

    def publish_model(self, repo_id: str, folder: Path, *, message: str, tag: str | None = None) -> DatasetRef:
        """Every file of ``folder`` (weights, tokenizer, ``README.md`` card) as one commit of model repo ``repo_id``.

        Model repos live under ``<root>/models/`` as on the Hub; a publish replaces the whole tree.
        """
        repo = self._ensure_repo(repo_id, kind="models")
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}
        with self._locked(repo):
            if tag is not None:
                self._check_new_tag(repo, repo_id, tag)
            commit = self._commit(repo, {}, files, self._head(repo), message, tag)
        return DatasetRef(repo_id=repo_id, revision=commit)

    def model_dir(self, ref: DatasetRef) -> Path:
        """The model repo's files at ``ref``, materialised once per sha (``from_pretrained`` reads the folder)."""
        sha = self.resolve(ref, kind="models")
        return self.materialise(ref.repo_id, sha, kind="models")

    def _check_new_tag(self, repo: Path, repo_id: str, tag: str) -> None:
        try:
            self._git(repo, "check-ref-format", f"refs/tags/{tag}")
        except subprocess.CalledProcessError:
            raise KinjectUserError(f"{repo_id}: {tag!r} is not a valid tag name") from None
        if self._git(repo, "tag", "--list", tag).strip():
            raise KinjectUserError(
                f"{repo_id}@{tag} already exists; tags name milestones and are never moved — pick a new tag"
            )

    # ------------------------------------------------------------------ read

    def resolve(self, ref: DatasetRef, kind: str = "datasets") -> str:
        """Full commit sha of ``ref`` (sha, abbreviated sha, tag or branch)."""
        repo = self._existing(ref.repo_id, kind)
        if not ref.revision.startswith("-"):
            try:
                return self._git(repo, "rev-parse", "--verify", "--quiet", f"{ref.revision}^{{commit}}").strip()
            except subprocess.CalledProcessError:
                pass
        tags = self._git(repo, "tag", "--list").split()
        raise KinjectUserError(
            f"{ref}: no such revision (tags: {', '.join(tags) or 'none'}; `kinject log {ref.repo_id}` lists commits)"
        )

    def _show(self, repo: Path, sha: str, path: str) -> bytes | str:
        done = subprocess.run(
            ["git", "--git-dir", str(repo), "cat-file", "blob", f"{sha}:{path}"], capture_output=True, check=False
        )
        if done.returncode != 0:
            raise FileNotFoundError(path)
        return done.stdout.decode()

    def read_file(self, ref: DatasetRef, path: str) -> str:
        sha = self.resolve(ref)
        try:
            return self._show(self._existing(ref.repo_id), sha, path)
        except FileNotFoundError:
            raise KinjectUserError(f"{ref.repo_id}@{sha[:7]} has no file {path!r}") from None

    def list_files(self, ref: DatasetRef) -> list[str]:
        """Every file path of the repo at ``ref``."""
        return sorted(self._tree(self._existing(ref.repo_id), self.resolve(ref)))

    def card_data(self, ref: DatasetRef) -> dict:
        sha = self.resolve(ref)  # an unknown revision is an error; a revision without a card has no configs
        try:
            return split_front_matter(self._show(self._existing(ref.repo_id), sha, CARD_PATH))[0]
        except FileNotFoundError:
            return {}

    def configs(self, ref: DatasetRef) -> list[str]:
        return configs_of(self.card_data(ref))

    def load(self, ref: DatasetRef, config: str, split: str = "train") -> datasets.Dataset:
        """Exactly ``ref``'s rows of ``config``/``split``, from the per-sha cache."""
        sha = self.resolve(ref)
        front = self.card_data(DatasetRef(repo_id=ref.repo_id, revision=sha))
        entry = next((c for c in front.get("configs") or [] if c["config_name"] == config), None)
        if entry is None:
            raise KinjectUserError(
                f"{ref.repo_id}@{sha[:7]} has no config {config!r} (has: {', '.join(configs_of(front)) or 'none'})"
            )
        globs = [f["path"] for f in entry["data_files"] if f["split"] == split]
        if not globs:
            have = ", ".join(f["split"] for f in entry["data_files"])
            raise KinjectUserError(f"{ref.repo_id}@{sha[:7]} config {config!r} has no split {split!r} (has: {have})")
        folder = self.materialise(ref.repo_id, sha)
        paths = sorted(p for g in globs for p in folder.glob(g))
        # Read straight into memory: corpora are small, and Dataset.from_parquet would keep a second Arrow copy
        # per sha in the datasets cache. The parquet schema carries the datasets Features, so they round-trip.
        return datasets.Dataset(pq.read_table(paths[0]) if len(paths) == 1 else _concat(paths))

    def materialise(self, repo_id: str, sha: str, kind: str = "datasets") -> Path:
        """``<cache_dir>/[models/]<org>/<name>/<sha>/``: the repo's files at ``sha``, written once (aside, renamed)."""
        final = self.cache_dir / ("models" if kind == "models" else "") / repo_id / sha
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "--git-dir", str(self._existing(repo_id, kind)), "archive", "--format=tar", sha],
            capture_output=True, check=True,
        ).stdout
        tmp = Path(tempfile.mkdtemp(prefix=f".{sha}.", dir=final.parent))
        try:
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
            os.rename(tmp, final)
        except OSError:
            if not final.is_dir():  # another loader renamed its copy first: use that one
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return final

    def log(self, repo_id: str) -> list[dict]:
        """Revisions on ``main``, newest first: sha, date, message, tags, configs."""
        repo = self._existing(repo_id)
        if self._head(repo) is None:
            return []
        tags: dict[str, list[str]] = {}
        for line in self._git(repo, "for-each-ref", "refs/tags", "--format=%(objectname) %(*objectname) %(refname:short)").splitlines():
            obj, peeled, name = line.split(" ", 2)  # peeled is empty for lightweight tags
            tags.setdefault(peeled or obj, []).append(name)
        out = []
        raw = self._git(repo, "log", "--format=%H%x1f%aI%x1f%B%x1e", f"refs/heads/{BRANCH}")
        for record in filter(str.strip, raw.split("\x1e")):
            sha, when, message = record.strip("\n").split("\x1f", 2)
            try:
                front = split_front_matter(self._show(repo, sha, CARD_PATH))[0]
            except FileNotFoundError:
                front = {}
            out.append(
                {"sha": sha, "date": when, "message": message.strip(), "tags": sorted(tags.get(sha, [])),
                 "configs": configs_of(front)}
            )
        return out


def _concat(paths: list[Path]):
    import pyarrow as pa

    return pa.concat_tables([pq.read_table(p) for p in paths])
