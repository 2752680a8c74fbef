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


@pytest.fixture(autouse=True)
def _one_cluster_at_a_time(request, tmp_path_factory):
    """Tests marked ``cluster`` (Ray, Slurm) run one at a time across pytest-xdist workers.

    Two Ray or Slurm clusters starting at once on a two-core CI machine can miss their start-up
    deadlines; the lock lives in the run's shared temporary folder, so it serialises only them.
    """
    if request.node.get_closest_marker("cluster") is None:
        yield
        return
    with open(tmp_path_factory.getbasetemp().parent / "cluster-tests.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


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
