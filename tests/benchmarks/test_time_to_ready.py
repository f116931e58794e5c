"""Add-on graph analysis: membership, edges between add-ons, removing edges, the add-on chain alone."""

from __future__ import annotations

import dataclasses

from benchmarks.latency import schedule
from benchmarks.time_to_ready import REQUIRED_ADDON_EDGES, Graph, addon_chain, needless, reason, target
from tests.benchmarks.test_latency import reg

ROOT = reg("platform", "gpuplat:addons:PlatformAddons", custom=False, deps=("pool",))


def _stack(prometheus_waits_for: tuple[str, ...] = ()):
    cert = reg("cert", "gpuplat:addons:CertManager", custom=False, parent=ROOT.urn)
    kserve = reg("kserve", "gpuplat:addons:KServe", custom=False, parent=ROOT.urn, deps=("cert-chart",))
    monitoring = reg("monitoring", "gpuplat:addons:Monitoring", custom=False, parent=ROOT.urn)
    return [
        reg("cluster", "aws:eks/cluster:Cluster"),
        reg("pool", "aws:eks/nodeGroup:NodeGroup", deps=("cluster",)),
        ROOT,
        cert,
        reg("cert-chart", "kubernetes:helm.sh/v4:Chart", custom=False, parent=cert.urn, chart="cert-manager"),
        kserve,
        reg(
            "kserve-chart",
            "kubernetes:helm.sh/v4:Chart",
            custom=False,
            parent=kserve.urn,
            chart="kserve-resources",
            deps=("prom-chart",),
        ),
        monitoring,
        reg(
            "prom-chart",
            "kubernetes:helm.sh/v4:Chart",
            custom=False,
            parent=monitoring.urn,
            chart="kube-prometheus-stack",
            deps=prometheus_waits_for,
        ),
    ]


def test_every_resource_belongs_to_its_top_level_addon() -> None:
    graph = Graph(_stack())
    assert {urn.removeprefix("urn:"): addon.name for urn, addon in graph.addon_of.items()} == {
        "cert": "cert",
        "cert-chart": "cert",
        "kserve": "kserve",
        "kserve-chart": "kserve",
        "monitoring": "monitoring",
        "prom-chart": "monitoring",
    }
    assert [addon.name for addon in graph.addons()] == ["cert", "kserve", "monitoring"]


def test_edges_between_addons_include_component_and_child_dependencies() -> None:
    edges = Graph(_stack()).addon_edges()
    assert {key: [(a.name, b.name) for a, b in pairs] for key, pairs in edges.items()} == {
        ("KServe", "CertManager"): [("kserve", "cert-chart")],
        ("KServe", "Monitoring"): [("kserve-chart", "prom-chart")],
    }


def test_addon_chain_ignores_the_cluster_and_removing_an_edge_shortens_it() -> None:
    graph = Graph(_stack())
    assert addon_chain(graph).total == 180 + 120  # prometheus, then kserve; cert-manager (90) in parallel
    assert [s.resource.name for s in addon_chain(graph).critical_path()] == ["prom-chart", "kserve-chart"]
    pruned = Graph(graph.without(graph.addon_edges()["KServe", "Monitoring"]))
    assert addon_chain(pruned).total == 90 + 120
    assert [s.resource.name for s in addon_chain(pruned).critical_path()] == ["cert-chart", "kserve-chart"]


def _with_istio_and_an_unexplained_edge():
    """`_stack()` plus Istio, which Monitoring waits for (a design edge), and a Kueue that waits for KServe
    (no reason: needless)."""
    istio = reg("istio", "gpuplat:addons:Istio", custom=False, parent=ROOT.urn)
    kueue = reg("kueue", "gpuplat:addons:Kueue", custom=False, parent=ROOT.urn, deps=("kserve-chart",))
    return _stack(prometheus_waits_for=("istiod",)) + [
        istio,
        reg("istiod", "kubernetes:helm.sh/v4:Chart", custom=False, parent=istio.urn, chart="istiod"),
        kueue,
        reg("kueue-chart", "kubernetes:helm.sh/v4:Chart", custom=False, parent=kueue.urn, chart="kueue"),
    ]


def test_every_edge_has_a_reason_or_is_needless() -> None:
    graph = Graph(_with_istio_and_an_unexplained_edge())
    reasons = {edge: reason(edge) for edge in graph.addon_edges()}
    assert reasons["KServe", "CertManager"].startswith("upstream: ")
    assert reasons["Monitoring", "Istio"].startswith("this stack's design: Prometheus joins the mesh")
    assert reasons["Kueue", "KServe"] is None
    assert [(a.name, b.name) for a, b in needless(graph)] == [("kueue", "kserve-chart")]
    upstream_only = {(a.name, b.name) for a, b in needless(graph, keep=REQUIRED_ADDON_EDGES)}
    assert upstream_only == {("kueue", "kserve-chart"), ("prom-chart", "istiod")}


def _verdict(resources) -> str:
    graph = Graph(resources)
    plan = schedule(graph.resources)
    clusters = [r for r in graph.resources if r.name == "cluster"]
    pools = [r for r in graph.resources if r.name == "pool"]
    return target(graph, plan, clusters, pools)[-1]


def test_a_needless_edge_on_the_critical_path_misses_the_target_and_a_design_edge_does_not() -> None:
    with_needless = _with_istio_and_an_unexplained_edge()
    assert "target NOT met" in _verdict(with_needless)
    without = [r for r in with_needless if r.name != "kueue"]
    without = [
        dataclasses.replace(r, dependencies=()) if r.name == "kserve-chart" else r for r in without
    ]  # KServe no longer waits for monitoring either: the istiod -> prometheus design chain is the longest
    assert _verdict(without).endswith("target met")
