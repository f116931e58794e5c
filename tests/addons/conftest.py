"""Shared helpers: platforms built from inline specs or `stacks/`, and the add-ons recorded under mocks.

Under the recording mocks a `helm.v4.Chart` is a remote component: the provider would render its
objects, the mocks render none. Tests therefore assert on each Chart's inputs (chart, version,
repository, release name, namespace, values) and on the objects the add-ons declare themselves.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.proto import callback_pb2

from components.addons import PlatformAddons, PlatformAddonsArgs, helm_chart
from components.spec.loader import Platform, StackSettings, load_platform
from components.spec.models import PlatformSpec
from tools.mock_runtime import Recording, Registration, record

ROOT = Path(__file__).resolve().parents[2]
CHART_TYPE = "kubernetes:helm.sh/v4:Chart"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
COMPONENT_TYPES = {
    "gpu": "gpuplat:addons:GpuSupport",
    "kuberay": "gpuplat:addons:KubeRay",
    "kueue": "gpuplat:addons:Kueue",
    "cert_manager": "gpuplat:addons:CertManager",
    "kserve": "gpuplat:addons:KServe",
    "monitoring": "gpuplat:addons:Monitoring",
    "istio": "gpuplat:addons:Istio",
}

SYSTEM_POOL = {"system": True, "max_nodes": 3, "capacity": {"vcpu": 8, "memory_gib": 32}}
GPU_POOL = {"max_nodes": 2, "capacity": {"vcpu": 48, "memory_gib": 192, "gpus": 4, "gpu_product": "NVIDIA-L4"}}


def spec(addons: Mapping[str, Any] | None = None, node_pools: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A minimal valid spec: an existing cluster with a system pool and one 4-GPU pool, all add-ons on."""
    return {
        "cluster": {"mode": "existing"},
        "node_pools": dict(node_pools) if node_pools is not None else {"system": SYSTEM_POOL, "gpu-a": GPU_POOL},
        "addons": dict(addons or {}),
    }


def platform(addons: Mapping[str, Any] | None = None, node_pools: Mapping[str, Any] | None = None,
             *, preinstalled: frozenset[str] = frozenset(), skip_await: bool = False) -> Platform:
    return Platform(
        settings=StackSettings(environment="test", spec_file="inline.yaml",
                               preinstalled_addons=preinstalled, skip_await=skip_await),
        spec=PlatformSpec.model_validate(spec(addons, node_pools)),
    )


def stack_platform(environment: str) -> Platform:
    return load_platform(StackSettings(environment=environment, spec_file=f"stacks/{environment}.yaml"), root=ROOT)


class RecordingCallbacks:
    """Stands in for the SDK's callback server, which the mocks lack: records each transform registered."""

    def __init__(self) -> None:
        self.transforms: list[pulumi.ResourceTransform] = []

    def register_transform(self, transform: pulumi.ResourceTransform) -> callback_pb2.Callback:
        self.transforms.append(transform)
        return callback_pb2.Callback(token=str(len(self.transforms)), target="recording-callbacks")


@dataclass
class RecordedAddons:
    recording: Recording
    addons: PlatformAddons
    provider_urn: str
    chart_options: dict[str, pulumi.ResourceOptions] = field(default_factory=dict)

    def charts(self) -> dict[str, Registration]:
        return {r.name: r for r in self.recording.of_type(CHART_TYPE)}

    def chart(self, name: str) -> Registration:
        return self.charts()[name]

    def one(self, type_token: str, name: str) -> Registration:
        found = [r for r in self.recording.of_type(type_token) if r.name == name]
        assert len(found) == 1, f"{len(found)} {type_token} named {name!r}"
        return found[0]

    def custom_resources(self) -> list[Registration]:
        """Objects of CRD-defined kinds the add-ons declare (monitors, Istio policies, the Gateway)."""
        return [r for r in self.recording.resources
                if r.custom and r.type.startswith("kubernetes:") and not r.type.startswith("kubernetes:core/")]

    def ready_names(self) -> dict[str, list[str]]:
        return {addon: [_name(resource) for resource in resources] for addon, resources in self.addons.ready.items()}

    def component(self, addon: str) -> Registration | None:
        found = self.recording.of_type(COMPONENT_TYPES[addon])
        return found[0] if found else None

    def owner(self, registration: Registration) -> str | None:
        """The add-on whose component the registration belongs to (None: PlatformAddons or the provider)."""
        by_urn = {r.urn: r for r in self.recording.resources}
        components = {reg.urn: addon for addon in COMPONENT_TYPES if (reg := self.component(addon)) is not None}
        current: Registration | None = registration
        while current is not None:
            if current.urn in components:
                return components[current.urn]
            current = by_urn.get(current.parent)
        return None


def _name(resource: pulumi.Resource) -> str:
    return resource._name  # the logical name the resource was registered with


def record_addons(platform: Platform, *, callbacks: RecordingCallbacks | None = None) -> RecordedAddons:
    """Record `PlatformAddons("platform", ...)` as __main__.py creates it, with one Kubernetes provider."""
    holder: dict[str, Any] = {}

    def program() -> None:
        if callbacks is not None:
            runtime_settings.SETTINGS.callbacks = callbacks
        provider = k8s.Provider("k8s")
        holder["addons"] = PlatformAddons("platform", PlatformAddonsArgs(platform=platform),
                                          opts=pulumi.ResourceOptions(providers=[provider]))

    recording = record(program)
    provider = recording.named("k8s")
    return RecordedAddons(recording=recording, addons=holder["addons"], provider_urn=provider.urn)


@pytest.fixture
def chart_options(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, pulumi.ResourceOptions]]:
    """The ResourceOptions each chart was created with (transforms are not visible in the recording)."""
    seen: dict[str, pulumi.ResourceOptions] = {}
    original = helm_chart.Chart

    def spy(resource_name: str, *args: Any, opts: pulumi.ResourceOptions | None = None, **kwargs: Any) -> Any:
        seen[resource_name] = opts or pulumi.ResourceOptions()
        return original(resource_name, *args, opts=opts, **kwargs)

    monkeypatch.setattr(helm_chart, "Chart", spy)
    yield seen


def ints(value: Any) -> Any:
    """Recorded inputs come back through protobuf Struct, where every number is a float; undo that."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [ints(item) for item in value]
    return value
