"""Existing mode: only a Kubernetes provider (child of the component) aimed at the right kubeconfig/context."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pytest

from components.cluster import ExistingCluster
from components.cluster.existing import existing_cluster_args
from tests.cluster.conftest import record_cluster, secret_value, small_platform, stack_platform
from tools.mock_runtime import record

KUBECONFIG = "apiVersion: v1\nkind: Config\ncurrent-context: from-file\n"


def _existing(**cluster: object) -> dict:
    return {
        "cluster": {"mode": "existing", **cluster},
        "node_pools": {
            "local": {"system": True, "max_nodes": 1, "capacity": {"vcpu": 8, "memory_gib": 16}},
            "gpu": {"max_nodes": 2, "capacity": {"vcpu": 16, "memory_gib": 64, "gpus": 2, "gpu_product": "X"}},
        },
    }


@pytest.fixture(autouse=True)
def _no_ambient_kubeconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    # pulumi_kubernetes.Provider copies $KUBECONFIG into its input when none is given; keep tests hermetic.
    monkeypatch.delenv("KUBECONFIG", raising=False)


def test_local_stack_registers_only_the_component_and_its_provider_with_the_spec_context() -> None:
    recorded = record_cluster(stack_platform("local"))
    component, provider = recorded.recording.resources
    assert (component.type, component.name, component.custom) == ("gpuplat:cluster:ExistingCluster", "gpuplat", False)
    assert (provider.type, provider.name) == ("pulumi:providers:kubernetes", "gpuplat-k8s")
    assert provider.parent == component.urn
    # No path anywhere: the provider falls back to $KUBECONFIG / ~/.kube/config by itself.
    assert provider.inputs == {"context": "kind-gpuplat"}
    assert recorded.values["kubeconfig"] == ""


def test_spec_kubeconfig_file_content_is_passed_as_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text(KUBECONFIG)
    recorded = record_cluster(small_platform(_existing(kubeconfig=str(path), context="spec-context")))
    provider = recorded.one("pulumi:providers:kubernetes")
    assert secret_value(provider.inputs["kubeconfig"]) == KUBECONFIG
    assert provider.inputs["context"] == "spec-context"
    assert recorded.values["kubeconfig"] == KUBECONFIG


def test_stack_settings_override_the_spec_path_and_context(tmp_path: Path) -> None:
    (tmp_path / "spec").write_text("spec: file\n")
    (tmp_path / "settings").write_text(KUBECONFIG)
    platform = small_platform(
        _existing(kubeconfig=str(tmp_path / "spec"), context="spec-context"),
        kubeconfig=str(tmp_path / "settings"),
        kube_context="settings-context",
    )
    provider = record_cluster(platform).one("pulumi:providers:kubernetes")
    assert secret_value(provider.inputs["kubeconfig"]) == KUBECONFIG
    assert provider.inputs["context"] == "settings-context"


def test_settings_context_alone_keeps_the_spec_path(tmp_path: Path) -> None:
    (tmp_path / "spec").write_text(KUBECONFIG)
    args = existing_cluster_args(
        small_platform(_existing(kubeconfig=str(tmp_path / "spec"), context="a"), kube_context="b")
    )
    assert (args.kubeconfig_path, args.context, args.source) == (str(tmp_path / "spec"), "b", "cluster.kubeconfig")


def test_home_relative_kubeconfig_path_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "lab").write_text(KUBECONFIG)
    provider = record_cluster(small_platform(_existing(kubeconfig="~/.kube/lab"))).one("pulumi:providers:kubernetes")
    assert secret_value(provider.inputs["kubeconfig"]) == KUBECONFIG
    assert "context" not in provider.inputs


def test_unreadable_kubeconfig_fails_naming_the_setting_before_registering(tmp_path: Path) -> None:
    platform = small_platform(_existing(), environment="lab", kubeconfig=str(tmp_path / "missing"))
    registered: list[object] = []

    def program() -> None:
        with pytest.raises(pulumi.RunError, match=r"Pulumi\.lab\.yaml gpuplat:kubeconfig: cannot read kubeconfig"):
            ExistingCluster("gpuplat", existing_cluster_args(platform))
        registered.append("checked")

    assert record(program).resources == []
    assert registered == ["checked"]


def test_handle_has_no_workload_identity_and_pools_from_declared_capacity() -> None:
    recorded = record_cluster(small_platform(_existing()))
    handle = recorded.handle
    assert handle.workload_identity is None
    assert handle.providers == [handle.provider]
    assert isinstance(handle.component, ExistingCluster)
    gpu = handle.pools["gpu"]
    assert (gpu.is_gpu, gpu.instance.gpus, gpu.allocatable.gpus, gpu.max_nodes) == (True, 2, 2, 2)
    assert dict(gpu.labels) == {
        "gpuplat.io/pool": "gpu", "gpuplat.io/accelerator": "nvidia", "nvidia.com/gpu.product": "X"
    }
    assert [(t.key, t.value, t.effect) for t in gpu.taints] == [("nvidia.com/gpu", "true", "NoSchedule")]
    assert handle.pools["local"].is_gpu is False
