"""Time-to-ready model: latencies per type, parent and dependency semantics, critical path, serial sum."""

from __future__ import annotations

import pytest

from benchmarks.latency import chart_latency, latency, provider_urn, schedule
from tools.mock_runtime import Registration

STACK = "urn:pulumi:prod::gpuplat::pulumi:pulumi:Stack::gpuplat-prod"


def reg(
    name: str,
    type_: str = "kubernetes:core/v1:ConfigMap",
    *,
    parent: str = STACK,
    deps: tuple[str, ...] = (),
    provider: str = "",
    custom: bool = True,
    **inputs: object,
) -> Registration:
    return Registration(
        type=type_,
        name=name,
        urn=f"urn:{name}",
        inputs=dict(inputs),
        parent=parent,
        dependencies=tuple(f"urn:{dep}" for dep in deps),
        provider=provider,
        custom=custom,
        protect=False,
        retain_on_delete=False,
        delete_before_replace=False,
    )


@pytest.mark.parametrize(
    ("resource", "seconds"),
    [
        (reg("c", "aws:eks/cluster:Cluster"), 600),
        (reg("ng", "aws:eks/nodeGroup:NodeGroup"), 240),
        (reg("k", "aws:kms/key:Key"), 3),
        (reg("x", "aws:ec2/somethingNew:SomethingNew"), 5),
        (reg("crd", "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"), 1),
        (reg("isvc", "kubernetes:serving.kserve.io/v1beta1:InferenceService"), 1),
        (reg("ns", "kubernetes:core/v1:Namespace"), 1),
        (reg("p", "pulumi:providers:kubernetes"), 0),
        (reg("comp", "gpuplat:addons:Kueue", custom=False), 0),
        (reg("rand", "random:index/randomPassword:RandomPassword"), 0),
        (reg("prom", "kubernetes:helm.sh/v3:Release", chart="kube-prometheus-stack"), 180),
        (
            reg("kueue", "kubernetes:helm.sh/v4:Chart", custom=False, chart="oci://registry.k8s.io/kueue/charts/kueue"),
            90,
        ),
        (reg("other", "kubernetes:helm.sh/v3:Release", chart="unknown-chart"), 120),
    ],
)
def test_latency_per_type(resource: Registration, seconds: float) -> None:
    assert latency(resource) == seconds


@pytest.mark.parametrize(
    ("chart", "seconds"),
    [
        ("kserve-crd", 15),
        ("oci://ghcr.io/kserve/charts/kserve-resources", 120),
        ("kserve", 120),
        ("base", 15),
        ("istio/base", 15),
        ("gateway", 60),
        ("cert-manager", 90),
    ],
)
def test_chart_names_match_longest_first(chart: str, seconds: float) -> None:
    assert chart_latency(reg("chart", "kubernetes:helm.sh/v3:Release", chart=chart)) == seconds


def test_provider_reference_is_urn_and_id() -> None:
    assert provider_urn("urn:pulumi:s::p::pulumi:providers:kubernetes::k8s::abc-id") == (
        "urn:pulumi:s::p::pulumi:providers:kubernetes::k8s"
    )
    assert provider_urn("") == ""


def test_independent_resources_run_in_parallel_and_serial_is_the_sum() -> None:
    plan = schedule([reg("a", "aws:eks/cluster:Cluster"), reg("b", "aws:eks/nodeGroup:NodeGroup")])
    assert plan.total == 600
    assert plan.serial == 840


def test_dependencies_chain_and_the_provider_waits_for_the_cluster() -> None:
    cluster = reg("cluster", "aws:eks/cluster:Cluster")
    provider = reg("k8s", "pulumi:providers:kubernetes", deps=("cluster",))
    namespace = reg("ns", "kubernetes:core/v1:Namespace", provider=f"{provider.urn}::id")
    plan = schedule([cluster, provider, namespace])
    assert plan.timings[namespace.urn].start == 600
    assert plan.total == 601
    assert [(step.resource.name, step.start, step.reason) for step in plan.critical_path()] == [
        ("cluster", 0, "at once"),
        ("ns", 600, "after k8s (provider)"),
    ]


def test_children_wait_for_their_parents_dependencies() -> None:
    pool = reg("pool", "aws:eks/nodeGroup:NodeGroup")
    addon = reg("kueue", "gpuplat:addons:Kueue", custom=False, deps=("pool",))
    inner = reg("inner", "gpuplat:addons:Part", custom=False, parent=addon.urn)
    chart = reg("chart", "kubernetes:helm.sh/v3:Release", parent=inner.urn, chart="kueue")
    plan = schedule([pool, addon, inner, chart])
    assert plan.timings[chart.urn].start == 240
    assert plan.timings[addon.urn].ready == 330
    path = plan.critical_path()
    assert [step.resource.name for step in path] == ["pool", "chart"]
    assert path[-1].reason == "after pool (dependency)"


def test_a_component_is_ready_when_its_slowest_child_is() -> None:
    addon = reg("addons", "gpuplat:addons:PlatformAddons", custom=False)
    fast = reg("crd", "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", parent=addon.urn)
    slow = reg("prom", "kubernetes:helm.sh/v3:Release", parent=addon.urn, chart="kube-prometheus-stack")
    user = reg("monitor", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", deps=("crd", "prom"))
    waits_for_component = reg("late", "kubernetes:core/v1:ConfigMap", deps=("addons",))
    plan = schedule([addon, fast, slow, user, waits_for_component])
    assert plan.timings[addon.urn].ready == 180
    assert plan.timings[addon.urn].ready_cause == slow.urn
    assert plan.timings[user.urn].start == 180
    assert plan.timings[waits_for_component.urn].start == 180
    assert plan.serial == 1 + 180 + 1 + 1


def test_critical_path_lists_the_longest_chain_in_order() -> None:
    resources = [
        reg("cluster", "aws:eks/cluster:Cluster"),
        reg("system", "aws:eks/nodeGroup:NodeGroup", deps=("cluster",)),
        reg("cert-manager", "kubernetes:helm.sh/v3:Release", deps=("system",), chart="cert-manager"),
        reg("kserve", "kubernetes:helm.sh/v3:Release", deps=("cert-manager",), chart="kserve"),
        reg("kueue", "kubernetes:helm.sh/v3:Release", deps=("system",), chart="kueue"),
    ]
    plan = schedule(resources)
    assert plan.total == 600 + 240 + 90 + 120
    assert [(step.resource.name, step.start, step.ready) for step in plan.critical_path()] == [
        ("cluster", 0, 600),
        ("system", 600, 840),
        ("cert-manager", 840, 930),
        ("kserve", 930, 1050),
    ]
    assert [step.resource.name for step in plan.critical_path("urn:kueue")] == ["cluster", "system", "kueue"]


def test_a_cycle_is_reported() -> None:
    with pytest.raises(ValueError, match="cycle"):
        schedule([reg("a", deps=("b",)), reg("b", deps=("a",))])


def test_dependencies_outside_the_recording_are_ignored() -> None:
    plan = schedule([reg("a", deps=("not-recorded",))])
    assert plan.total == 1
