"""Fixtures of the CI-face tests (helpers live in facelib.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from facelib import SAMPLE_APPS, SAMPLE_ORIGIN, git


@pytest.fixture
def sample_repo(make_git_repo: Callable[..., Path]) -> Path:
    """A monorepo with two apps, a GitLab-like origin, committed on main."""
    repo = make_git_repo(SAMPLE_APPS, name="shop")
    git(repo, "remote", "add", "origin", SAMPLE_ORIGIN)
    return repo
