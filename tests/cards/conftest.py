"""Fixtures for the artifact-layer tests: a local registry under tmp_path."""

from __future__ import annotations

import pytest

from kinject.cards.local import LocalRegistry


@pytest.fixture
def registry(tmp_path) -> LocalRegistry:
    return LocalRegistry(tmp_path / "registry", tmp_path / "cache")
