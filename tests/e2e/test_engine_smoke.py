"""Smoke test: the real Pulumi engine creates, diffs and destroys objects on a local API server."""

from __future__ import annotations

import textwrap
import time
import uuid
from pathlib import Path

import pytest

VENV = Path(__file__).resolve().parents[2] / "venv"

PROGRAM = '''\
import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
kubeconfig_path = config.require("kubeconfig")
ns_name = config.require("namespace")

with open(kubeconfig_path) as f:
    provider = k8s.Provider("local", kubeconfig=f.read())

opts = pulumi.ResourceOptions(provider=provider)
# No kubelet or controllers on the local API server: never wait for readiness, and delete with
# background propagation (the default, foreground, leaves a foregroundDeletion finalizer that only
# the garbage collector would remove, so the delete would wait forever).
skip_await = {"pulumi.com/skipAwait": "true", "pulumi.com/deletionPropagationPolicy": "background"}

ns = k8s.core.v1.Namespace(
    "smoke-ns",
    metadata={"name": ns_name, "annotations": skip_await},
    opts=opts,
)
cm = k8s.core.v1.ConfigMap(
    "smoke-cm",
    metadata={"name": "smoke", "namespace": ns.metadata["name"], "annotations": skip_await},
    data={"greeting": "hello from gpuplat"},
    opts=opts,
)
pulumi.export("namespace", ns.metadata["name"])
pulumi.export("configmap", cm.metadata["name"])
'''


def _write_project(directory, name: str) -> None:
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: {name}
            runtime:
              name: python
              options:
                toolchain: pip
                virtualenv: {VENV}
            """
        )
    )
    (directory / "__main__.py").write_text(PROGRAM)


@pytest.mark.e2e
def test_namespace_and_configmap_roundtrip(apiserver, pulumi_workspace):
    assert (VENV / "bin" / "python").exists(), f"project virtualenv missing: {VENV}"
    ns_name = f"smoke-{uuid.uuid4().hex[:8]}"
    project = pulumi_workspace.dir / "project"
    _write_project(project, "gpuplat-engine-smoke")
    ws = pulumi_workspace

    ws.run("stack", "init", "smoke", "--non-interactive", cwd=project)
    ws.run("config", "set", "kubeconfig", str(apiserver.kubeconfig), cwd=project)
    ws.run("config", "set", "namespace", ns_name, cwd=project)
    try:
        up = ws.run("up", "--yes", "--non-interactive", cwd=project)

        ns = apiserver.get(f"/api/v1/namespaces/{ns_name}")
        assert ns is not None, f"namespace {ns_name} was not created\n{up.stdout}"
        cm = apiserver.get(f"/api/v1/namespaces/{ns_name}/configmaps/smoke")
        assert cm is not None, f"configmap was not created\n{up.stdout}"
        assert cm["data"] == {"greeting": "hello from gpuplat"}

        outputs = ws.run("stack", "output", "--json", cwd=project).stdout
        assert ns_name in outputs

        ws.run("preview", "--expect-no-changes", "--non-interactive", cwd=project)
    finally:
        destroy = ws.run("destroy", "--yes", "--non-interactive", cwd=project, check=False)

    assert destroy.returncode == 0, f"destroy failed\n{destroy.stdout}\n{destroy.stderr}"
    assert apiserver.get(f"/api/v1/namespaces/{ns_name}/configmaps/smoke") is None
    # Without the namespace controller the namespace's finalizer is never removed: it stays
    # Terminating (deletionTimestamp set) instead of disappearing.
    deadline = time.monotonic() + 30
    while True:
        ns = apiserver.get(f"/api/v1/namespaces/{ns_name}")
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            break
        assert time.monotonic() < deadline, f"namespace {ns_name} not deleted: {ns}"
        time.sleep(1)
    if ns is not None:
        assert ns["status"]["phase"] == "Terminating"
