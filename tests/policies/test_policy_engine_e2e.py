"""The pack under the real Pulumi engine: `pulumi preview --policy-pack policies --policy-pack-config ...`.

Uses the CLI and Python language host that `scripts/install-engine` builds (skipped when they are not
built, failed under CI=true like the other e2e tests). The program registers component resources typed
as Kubernetes objects, so no provider or cluster is needed: what is under test is the pack's wiring
(`PulumiPolicy.yaml` with `virtualenv: ../venv`, `__main__.py`, the config files' format and schemas,
enforcement per environment, exemptions, messages), not the provider.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
POLICIES = REPO / "policies"
PROGRAM = """
import json, pulumi

class Manifest(pulumi.ComponentResource):
    def __init__(self, token, name, props):
        super().__init__(token, name, props)

for token, name, props in json.load(open("resources.json")):
    Manifest(token, name, props)
"""
PRIVILEGED = {"name": "c", "image": "nginx:1.27", "securityContext": {"privileged": True}}


def _deployment(name: str, namespace: str, kind: str = "Deployment") -> list[Any]:
    group = "apps/v1"
    props = {
        "apiVersion": group,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"template": {"spec": {"containers": [PRIVILEGED]}}},
    }
    return [f"kubernetes:{group}:{kind}", name, props]


@pytest.fixture(scope="module")
def pulumi_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    script = REPO / "scripts" / "install-engine"
    exported = subprocess.run(
        ["bash", "-c", f'eval "$("{script}" --print-env)" && env -0'],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    env = dict(item.split("=", 1) for item in exported.split("\0") if "=" in item)
    bin_dir = Path(env.get("GPUPLAT_ENGINE_ROOT", "/nonexistent")) / "bin"
    missing = [
        b for b in ("pulumi", "pulumi-language-python", "pulumi-language-python-exec") if not (bin_dir / b).is_file()
    ]
    if missing:
        message = f"engine cache {bin_dir} lacks {', '.join(missing)}; run scripts/install-engine"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    home = tmp_path_factory.mktemp("pulumi-home")
    state = tmp_path_factory.mktemp("state")
    env.update(
        PATH=f"{bin_dir}:{env.get('PATH', '')}",
        PULUMI_HOME=str(home),
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE="",
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
    )
    return env


def preview(env: dict[str, str], tmp_path: Path, resources: list[Any], config: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "Pulumi.yaml").write_text(
        f"name: polcheck\nruntime:\n  name: python\n  options:\n    virtualenv: {REPO / 'venv'}\n"
    )
    (tmp_path / "__main__.py").write_text(PROGRAM)
    (tmp_path / "resources.json").write_text(json.dumps(resources))

    def pulumi(*args: str) -> subprocess.CompletedProcess[str]:
        command = ["pulumi", *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)

    pulumi("stack", "select", "--create", "dev", "--non-interactive")  # a failure here shows in the preview
    return pulumi(
        "preview", "--stack", "dev", "--non-interactive", "--policy-pack", str(POLICIES),
        "--policy-pack-config", str(POLICIES / "config" / f"{config}.json"),
    )  # fmt: skip


@pytest.mark.e2e
def test_prod_blocks_a_privileged_container(pulumi_env: dict[str, str], tmp_path: Path) -> None:
    result = preview(pulumi_env, tmp_path, [_deployment("web", "ml")], "prod")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "[mandatory] [severity: critical]  k8s-no-privileged" in output
    assert (
        "Deployment ml/web spec.template.spec.containers[0].securityContext.privileged: privileged container" in output
    )
    assert "[advisory] [severity: low]  k8s-image-digest" in output


@pytest.mark.e2e
def test_dev_only_advises(pulumi_env: dict[str, str], tmp_path: Path) -> None:
    result = preview(pulumi_env, tmp_path, [_deployment("web", "ml")], "dev")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[advisory] [severity: critical]  k8s-no-privileged" in output
    assert "[mandatory]" not in output


@pytest.mark.e2e
def test_prod_exemption_covers_only_the_node_agent(pulumi_env: dict[str, str], tmp_path: Path) -> None:
    agent = _deployment("nvidia-dcgm-exporter", "gpu-system", "DaemonSet")
    result = preview(pulumi_env, tmp_path, [agent, _deployment("web", "ml")], "prod")
    output = result.stdout + result.stderr
    assert (
        "DaemonSet gpu-system/nvidia-dcgm-exporter spec.template.spec.containers[0].securityContext.privileged"
        not in output
    )
    assert "Deployment ml/web spec.template.spec.containers[0].securityContext.privileged" in output
