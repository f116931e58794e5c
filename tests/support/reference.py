"""Locate the upstream reference data (pinned CRDs and chart values) without copying it into the project.

Looked up in `$GPUPLAT_REFERENCE_DIR`, else `../shared/reference` beside the project. Tests that need it
are skipped with a message saying how to get it; `.ci/run` fails before the tests when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOW_TO = (
    "upstream reference data not found: set GPUPLAT_REFERENCE_DIR to a directory holding crds/ and "
    "chart-values/ (see ../shared/reference/README.md for where each file comes from), or place the "
    "shared/ checkout beside the project"
)


def find_reference_dir() -> Path | None:
    candidate = os.environ.get("GPUPLAT_REFERENCE_DIR")
    path = Path(candidate) if candidate else ROOT.parent / "shared" / "reference"
    return path if (path / "crds").is_dir() and (path / "chart-values").is_dir() else None


def reference_dir() -> Path:
    """The reference directory, or skip the calling test with instructions."""
    path = find_reference_dir()
    if path is None:
        pytest.skip(HOW_TO)
    return path
