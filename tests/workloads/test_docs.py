"""The declarations docs/workloads.md shows are valid specs (on the dev stack's pools)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from components.spec.loader import validate_file
from tests.workloads.support import ROOT


def test_every_example_in_the_workloads_guide_validates(tmp_path: Path) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "workloads.md").read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 3
    spec = yaml.safe_load((ROOT / "stacks" / "dev.yaml").read_text(encoding="utf-8"))
    for section in ("teams", "model_services", "ray_clusters", "ray_jobs", "ray_services"):
        spec.pop(section, None)
    for block in blocks:
        spec.update(yaml.safe_load(block))
    path = tmp_path / "dev.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    assert [str(problem) for problem in validate_file(str(path))] == []
