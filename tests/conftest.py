"""Shared test fixtures: paths to the embedded Korean sample (no ../shared needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "hanforge" / "sample"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The embedded sample folder (LibreOffice help + Debian FAQ, Korean)."""
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def sample_html_files() -> list[Path]:
    """All embedded sample HTML pages, sorted."""
    return sorted(SAMPLE_DIR.rglob("*.html"))
