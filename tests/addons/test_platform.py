"""PlatformAddons: which add-ons register, the `ready` contract, and the dependency edges between add-ons."""

from __future__ import annotations

import itertools

import pytest

from components.addons.gpu import gpu_pools
from components.addons.platform import PlatformAddons
from components.names import (
    CERT_MANAGER_NAMESPACE,
    GPU_NAMESPACE,
    INGRESS_NAMESPACE,
    ISTIO_NAMESPACE,
    KSERVE_NAMESPACE,
    KUBERAY_NAMESPACE,
    KUEUE_NAMESPACE,
    MONITORING_NAMESPACE,
)
from components.spec.rules import ADDON_NAMES
from tests.addons.conftest import (
    CHART_TYPE,
    COMPONENT_TYPES,
    NAMESPACE_TYPE,
    RecordedAddons,
    platform,
    record_addons,
    stack_platform,
)

NAMESPACES = {
    "gpu": {GPU_NAMESPACE},
    "kuberay": {KUBERAY_NAMESPACE},
    "kueue": {KUEUE_NAMESPACE},
    "cert_manager": {CERT_MANAGER_NAMESPACE},
    "kserve": {KSERVE_NAMESPACE},
    "monitoring": {MONITORING_NAMESPACE},
    "istio": {ISTIO_NAMESPACE, INGRESS_NAMESPACE},
}
READY = {
    "gpu": ["platform-gpu-device-plugin", "platform-gpu-dcgm-exporter"],
    "kuberay": ["platform-kuberay-operator"],
    "kueue": ["platform-kueue-controller"],
    "cert_manager": ["platform-cert-manager-chart"],
    "kserve": ["platform-kserve-crd", "platform-kserve-resources", "platform-kserve-runtime-configs"],
    "monitoring": ["platform-monitoring-stack"],
    "istio": ["platform-istio-base", "platform-istio-istiod"],
}
INDEPENDENT = ("gpu", "kuberay", "kueue", "cert_manager", "istio")


@pytest.fixture(scope="module")
def full() -> RecordedAddons:
    return record_addons(platform())


def addon_edges(recorded: RecordedAddons) -> set[tuple[str, str]]:
    """(dependent add-on, add-on depended on) for every dependency that crosses add-on components."""
    by_urn = {r.urn: r for r in recorded.recording.resources}
    edges = set()
    for registration in recorded.recording.resources:
        owner = recorded.owner(registration)
        for dependency in registration.dependencies:
            other = recorded.owner(by_urn[dependency])
            if owner is not None and other is not None and owner != other:
                edges.add((owner, other))
    return edges


def test_ready_names_every_addon_and_holds_the_crd_and_controller_charts(full: RecordedAddons) -> None:
    assert isinstance(full.addons, PlatformAddons)
    assert set(full.addons.ready) == set(ADDON_NAMES)
    assert full.ready_names() == READY
    with pytest.raises(TypeError):
        full.addons.ready["gpu"] = ()  # type: ignore[index]  # read-only for the workloads


def test_the_only_edges_between_addons_are_cert_manager_before_kserve_and_istiod_before_prometheus(
    full: RecordedAddons,
) -> None:
    assert addon_edges(full) == {("kserve", "cert_manager"), ("monitoring", "istio")}
    assert full.chart("platform-cert-manager-chart").urn in full.chart("platform-kserve-resources").dependencies
    assert full.chart("platform-istio-istiod").urn in full.chart("platform-monitoring-stack").dependencies


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(INDEPENDENT, 2)))
def test_independent_addons_have_no_ordering_edge_either_way(full: RecordedAddons, first: str, second: str) -> None:
    edges = addon_edges(full)
    assert (first, second) not in edges and (second, first) not in edges


def test_no_addon_waits_for_gpu_support(full: RecordedAddons) -> None:
    assert not {edge for edge in addon_edges(full) if edge[1] == "gpu" or edge[0] == "gpu"}


def test_preinstalled_cert_manager_and_istio_remove_the_edges_but_keep_the_consumers() -> None:
    recorded = record_addons(platform(preinstalled=frozenset({"cert_manager", "istio"})))
    assert addon_edges(recorded) == set()
    assert recorded.component("kserve") is not None
    prometheus = recorded.chart("platform-monitoring-stack").inputs["values"]["prometheus"]["prometheusSpec"]
    assert prometheus["scrapeClasses"][0]["name"] == "istio-mtls"


@pytest.mark.parametrize("addon", ADDON_NAMES)
@pytest.mark.parametrize("how", ["disabled", "preinstalled"])
def test_an_addon_that_is_disabled_or_preinstalled_registers_nothing(addon: str, how: str) -> None:
    if how == "disabled":
        dependents = {"cert_manager": {"kserve": {"enabled": False}}}.get(addon, {})
        recorded = record_addons(platform({addon: {"enabled": False}, **dependents}))
    else:
        recorded = record_addons(platform(preinstalled=frozenset({addon})))
    assert recorded.component(addon) is None
    assert not recorded.recording.of_type(COMPONENT_TYPES[addon])
    namespaces = {r.inputs["metadata"]["name"] for r in recorded.recording.of_type(NAMESPACE_TYPE)}
    assert not namespaces & NAMESPACES[addon]
    assert not [r for r in recorded.recording.of_type(CHART_TYPE) if r.inputs["namespace"] in NAMESPACES[addon]]
    assert recorded.addons.ready[addon] == ()
    # Everything else is still installed (KServe needs cert-manager, so it is switched off with it).
    switched_off = {addon, "kserve"} if (addon, how) == ("cert_manager", "disabled") else {addon}
    others = set(ADDON_NAMES) - switched_off
    assert {a for a in others if recorded.component(a) is not None} == others


def test_gpu_support_registers_nothing_without_a_gpu_pool() -> None:
    recorded = record_addons(platform(node_pools={"system": {"system": True, "max_nodes": 2,
                                                             "capacity": {"vcpu": 8, "memory_gib": 32}}}))
    assert recorded.component("gpu") is None
    assert not [r for r in recorded.recording.resources if r.name.startswith("platform-gpu")]
    assert recorded.addons.ready["gpu"] == ()
    monitors = {r.name for r in recorded.custom_resources()}
    assert "platform-monitoring-dcgm-exporter" not in monitors
    assert "platform-monitoring-dashboard-gpu" not in {r.name for r in recorded.recording.resources}


def test_every_resource_descends_from_platform_addons_and_uses_the_given_provider(full: RecordedAddons) -> None:
    root = full.recording.named("platform")
    assert root.type == "gpuplat:addons:PlatformAddons"
    for registration in full.recording.resources:
        if registration.name in ("k8s", "platform"):
            continue
        chain = []
        parent = registration.parent
        while parent:
            chain.append(parent)
            parent = next((r.parent for r in full.recording.resources if r.urn == parent), "")
        assert root.urn in chain, registration.name
        if registration.custom or registration.type == CHART_TYPE:
            assert registration.provider.startswith(full.provider_urn + "::"), registration.name


def test_each_addon_component_is_a_direct_child_named_after_platform(full: RecordedAddons) -> None:
    root = full.recording.named("platform")
    for addon, type_token in COMPONENT_TYPES.items():
        (component,) = full.recording.of_type(type_token)
        assert component.parent == root.urn
        assert component.name == f"platform-{addon.replace('_', '-')}"


@pytest.mark.parametrize("skip_await", [True, False])
def test_skip_await_reaches_every_chart(skip_await: bool) -> None:
    recorded = record_addons(platform(skip_await=skip_await))
    assert {chart.inputs.get("skipAwait", False) for chart in recorded.charts().values()} == {skip_await}


@pytest.mark.parametrize("environment", ["local", "dev", "staging", "prod"])
def test_each_stack_records_and_installs_what_its_spec_enables(environment: str) -> None:
    stack = stack_platform(environment)
    recorded = record_addons(stack)
    installed = {addon for addon in ADDON_NAMES if recorded.component(addon) is not None}
    expected = {addon for addon in ADDON_NAMES if stack.addon_installed(addon)}
    if not gpu_pools(stack.spec):
        expected.discard("gpu")
    assert installed == expected
