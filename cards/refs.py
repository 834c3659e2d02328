"""``DatasetRef``: how every stage names its input and output, ``repo@revision``."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

from kinject.errors import KinjectUserError

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


class DatasetRef(BaseModel):
    """A dataset repo at a revision (commit sha, tag or branch). ``str(ref)`` is ``repo@revision``."""

    model_config = ConfigDict(frozen=True)

    repo_id: str
    revision: str = "main"

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision}"

    @classmethod
    def parse(cls, text: str) -> "DatasetRef":
        """Parse ``org/name@revision`` (the revision defaults to ``main``)."""
        repo_id, _, revision = text.strip().partition("@")
        if not _REPO_ID.match(repo_id):
            raise KinjectUserError(f"{text!r}: expected <org>/<name>@<revision>, e.g. kinject/cpu-ja@v1")
        return cls(repo_id=repo_id, revision=revision or "main")
