"""Add-on graph analysis: membership, edges between add-ons, removing edges, the add-on chain alone."""

from __future__ import annotations

from benchmarks.time_to_ready import Graph, addon_chain
from tests.benchmarks.test_latency import reg

ROOT = reg("platform", "gpuplat:addons:PlatformAddons", custom=False, deps=("pool",))


def _stack():
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
