"""The GitHub workflows: valid for actionlint, pinned, and wired as docs/review-flow.md describes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
INSTALL_ACTIONLINT = ROOT / "scripts" / "install-actionlint"
CLOUD_STACKS = ["dev", "staging", "prod"]


def _workflow(name: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def _triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads the bare key `on` as true


def _steps_using(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [step for step in job.get("steps", []) if step.get("uses", "").startswith(f"{action}@")]


def _run_scripts(job: dict[str, Any]) -> str:
    return "\n".join(step.get("run", "") for step in job.get("steps", []))


def _actionlint() -> str | None:
    cached = subprocess.run(["bash", str(INSTALL_ACTIONLINT), "--path"], capture_output=True, text=True, check=True)
    path = Path(cached.stdout.strip())
    return str(path) if path.is_file() else shutil.which("actionlint")


def test_the_workflows_pass_actionlint() -> None:
    binary = _actionlint()
    if binary is None:
        message = "actionlint is not built: run `bash scripts/install-actionlint` (Go module, cached outside the repo)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI=true requires it", pytrace=False)
        pytest.skip(message)
    files = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    assert len(files) == 4

    result = subprocess.run([binary, "-no-color", *files], cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_action_is_pinned_to_a_commit_with_its_version_beside_it() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.search(r"\buses:\s*(\S+)(.*)", line)
            if match is None or match.group(1).startswith("./"):
                continue
            reference, comment = match.groups()
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", reference), f"{path.name}: {line.strip()}"
            assert re.fullmatch(r"\s*# v\d+\.\d+\.\d+", comment), f"{path.name}: no version comment: {line.strip()}"


def test_no_workflow_holds_static_cloud_keys() -> None:
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text(encoding="utf-8")
        assert "aws-access-key-id" not in text
        assert "AWS_SECRET_ACCESS_KEY" not in text


def test_pull_requests_are_linted_tested_and_policy_checked_before_the_previews() -> None:
    workflow = _workflow("pull-request.yml")
    checks = workflow["jobs"]["checks"]
    scripts = _run_scripts(checks)

    assert set(_triggers(workflow)) == {"pull_request"}
    assert "venv/bin/ruff check ." in scripts
    assert 'venv/bin/python -m pytest -m "not e2e"' in scripts
    assert "bash scripts/install-actionlint" in scripts  # so test_the_workflows_pass_actionlint runs, not skips
    assert "for stack in local dev staging prod; do" in scripts
    assert 'python -m policies.check --stack "$stack" --config "policies/config/$stack.json"' in scripts
    assert "--affected --base HEAD^1 --head HEAD --env dev --env staging --env prod" in scripts
    assert checks["outputs"]["stacks"] == "${{ steps.affected.outputs.stacks }}"


def test_only_affected_cloud_stacks_are_previewed_over_oidc_and_commented() -> None:
    preview = _workflow("pull-request.yml")["jobs"]["preview"]

    assert preview["needs"] == "checks"
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.checks.outputs.stacks) }}"
    assert "github.event.pull_request.head.repo.full_name == github.repository" in preview["if"]
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    assert preview["uses"] == "./.github/workflows/pulumi.yml"
    assert preview["with"] == {
        "command": "preview",
        "stack": "${{ matrix.stack }}",
        "environment": "${{ matrix.stack }}-preview",
    }
    assert preview["concurrency"]["cancel-in-progress"] is False


def test_the_pulumi_operation_assumes_a_role_and_runs_the_policy_pack_with_the_locked_cli() -> None:
    job = _workflow("pulumi.yml")["jobs"]["pulumi"]
    (credentials,) = _steps_using(job, "aws-actions/configure-aws-credentials")
    (pulumi,) = _steps_using(job, "pulumi/actions")
    locked = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.lock").read_text(), re.MULTILINE)

    assert job["environment"] == "${{ inputs.environment }}"
    assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert job["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    settings = pulumi["with"]
    assert settings["command"] == "${{ inputs.command }}"
    assert settings["stack-name"] == "${{ inputs.stack }}"
    assert settings["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert settings["diff"] is True
    assert settings["policyPacks"] == "policies"
    assert settings["policyPackConfigs"] == "policies/config/${{ inputs.stack }}.json"
    assert settings["comment-on-pr"] == "${{ inputs.command == 'preview' }}"
    assert locked is not None and settings["pulumi-version"] == locked.group(1)


def test_merges_promote_dev_then_staging_then_prod_one_update_per_stack_at_a_time() -> None:
    workflow = _workflow("deploy.yml")
    jobs = workflow["jobs"]

    assert _triggers(workflow)["push"] == {"branches": ["main"]}
    assert (jobs["dev"]["needs"], jobs["staging"]["needs"], jobs["prod"]["needs"]) == (
        "plan", ["plan", "dev"], ["plan", "staging"],
    )  # fmt: skip
    for stack in CLOUD_STACKS:
        job = jobs[stack]
        assert job["uses"] == "./.github/workflows/pulumi.yml"
        assert job["with"] == {"command": "up", "stack": stack, "environment": stack}
        assert job["concurrency"] == {"group": f"pulumi-{stack}", "cancel-in-progress": False}
        assert job["permissions"] == {"contents": "read", "id-token": "write"}
        assert f"contains(fromJSON(needs.plan.outputs.stacks), '{stack}')" in job["if"]
    for stack in ("staging", "prod"):
        assert jobs[stack]["if"].startswith("${{ !failure() && !cancelled() && ")
    assert "--env dev --env staging --env prod" in _run_scripts(jobs["plan"])


def test_the_desired_state_diff_runs_without_secrets_and_is_commented_for_forks_too() -> None:
    pull_request = _workflow("pull-request.yml")
    job = pull_request["jobs"]["desired-state"]
    relay = _workflow("desired-state-comment.yml")
    relay_job = relay["jobs"]["comment"]

    assert "secrets." not in yaml.safe_dump(job)
    assert "id-token" not in job["permissions"]
    assert "python -m tools.diff --base HEAD^1" in _run_scripts(job)
    (comment,) = _steps_using(job, "marocchino/sticky-pull-request-comment")
    assert comment["with"] == {"header": "desired-state", "path": "desired-state/desired-state.md"}
    # Forks: a workflow_run relay that runs none of the pull request's code.
    assert _triggers(relay)["workflow_run"] == {"workflows": [pull_request["name"]], "types": ["completed"]}
    assert not _steps_using(relay_job, "actions/checkout")
    (relay_comment,) = _steps_using(relay_job, "marocchino/sticky-pull-request-comment")
    assert relay_comment["with"]["header"] == "desired-state"
    assert relay_comment["with"]["number_force"] == "${{ steps.pr.outputs.number }}"
