"""Shared helpers: spec variants built from the shipped stacks, written into a test's tmp directory."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

SpecWriter = Callable[[str, Callable[[dict[str, Any]], None]], Path]


@pytest.fixture
def spec_variant(tmp_path: Path) -> SpecWriter:
    """`spec_variant("name", edit)`: a copy of stacks/prod.yaml, changed by `edit(spec)`, as a file.

    Key order is kept (`sort_keys=False`) so that the copy renders exactly like the original.
    """
    original = yaml.safe_load((ROOT / "stacks" / "prod.yaml").read_text(encoding="utf-8"))

    def write(name: str, edit: Callable[[dict[str, Any]], None]) -> Path:
        spec = copy.deepcopy(original)
        edit(spec)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
        return path

    return write
