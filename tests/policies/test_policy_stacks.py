"""The checker over the project's own stacks, rendered under mocks by `tools.render` (skipped without it).

This is the integration the `--stack` flag exists for: the program's real resources (EKS, node groups,
Kueue objects, Ray and KServe workloads) go through every rule without an error, and the exit status
follows the environment's levels.
"""

from __future__ import annotations

import json

import pytest

from policies.check import main
from policies.registry import BY_ID

pytest.importorskip("tools.render")


@pytest.mark.parametrize("env", ["local", "prod"])
def test_project_stack_is_checked(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--stack", env, "--format", "json"])
    out, err = capsys.readouterr()
    assert status in (0, 1), err
    findings = json.loads(out)
    assert {finding["rule"] for finding in findings} <= set(BY_ID)
    mandatory = [finding for finding in findings if finding["level"] == "mandatory"]
    assert status == (1 if mandatory else 0)
    if env == "local":
        assert mandatory == []  # local.json is advisory throughout
