"""Shared test fixtures: paths to the embedded Korean sample (no ../shared needed)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "hanforge" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The embedded sample folder (LibreOffice help + Debian FAQ, Korean)."""
    return SAMPLE_DIR


@pytest.fixture(scope="module")
def cluster_lock(tmp_path_factory):
    """Held while a module's Ray or Slurm cluster lives: one cluster at a time across xdist workers.

    Two clusters starting at once on a two-core CI machine can miss their start-up deadlines.
    The cluster fixtures depend on this (so the lock is taken before a cluster starts, and held
    until the module's cluster is stopped); the lock file lives in the run's shared temporary
    folder, so it serialises only the cluster tests.
    """
    with open(tmp_path_factory.getbasetemp().parent / "cluster-tests.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(autouse=True)
def _one_cluster_at_a_time(request):
    """Tests marked ``cluster`` hold :func:`cluster_lock` (once per module, like their clusters)."""
    if request.node.get_closest_marker("cluster") is not None:
        request.getfixturevalue("cluster_lock")


@pytest.fixture(scope="session")
def sample_html_files() -> list[Path]:
    """All embedded sample HTML pages, sorted."""
    return sorted(SAMPLE_DIR.rglob("*.html"))


# CI runs property tests with a fixed seed per test (reproducible results); local runs keep
# exploring new examples, which is how bugs like the PII rescan case are found.
if os.environ.get("CI"):
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, database=None)
    settings.load_profile("ci")
