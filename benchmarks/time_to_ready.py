"""Time to ready of the prod stack: critical path vs a fully serial install, and edges between add-ons.

    venv/bin/python -m benchmarks.time_to_ready              # stacks/prod.yaml
    venv/bin/python -m benchmarks.time_to_ready --env staging

The prod program runs under the recording mocks (`tools/mock_runtime.record_stack`), which capture every
registration with its real `dependencies` (depends_on and data flow), parent and provider. The schedule
and the latency model are in `benchmarks/latency.py`: a resource starts when its dependencies, its
provider and its parent's dependencies are ready; a component is ready when all its children are.

Target (issue #8): critical path = EKS cluster + node pool + the longest add-on chain (then a few seconds
of workload objects). The add-on chain is measured on the add-ons alone, over the edges between add-ons
that are required: by upstream (`REQUIRED_ADDON_EDGES`) or by a documented choice of this stack
(`DESIGN_ADDON_EDGES`, each priced: how much shorter the path would be without it). Every edge between
two add-ons is listed with its reason and what the critical path would be without it; an edge with
neither reason is a needless edge, and the target is not met while one lengthens the path.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable

from benchmarks.latency import Schedule, latency, schedule
from benchmarks.machine import describe
from tools.mock_runtime import Registration, record_stack

ADDONS_TYPE = "gpuplat:addons:PlatformAddons"
CLUSTER_TYPE = "aws:eks/cluster:Cluster"
NODE_GROUP_TYPE = "aws:eks/nodeGroup:NodeGroup"

# Ordering between add-ons that upstream requires (keys: component type names of the two add-ons).
# Anything else between add-ons must be free to install in parallel.
REQUIRED_ADDON_EDGES: dict[tuple[str, str], str] = {
    ("KServe", "CertManager"): "kserve-resources' webhook Certificate needs cert-manager's CRDs and webhook",
    ("Kueue", "CertManager"): "only when Kueue's webhook certificates come from cert-manager (enableCertManager)",
    ("GpuSupport", "Monitoring"): "dcgm-exporter's ServiceMonitor needs the Prometheus-operator CRDs (the CRDs only)",
    ("KubeRay", "Monitoring"): "a PodMonitor/ServiceMonitor needs the Prometheus-operator CRDs (the CRDs only)",
    ("Kueue", "Monitoring"): "a ServiceMonitor needs the Prometheus-operator CRDs (the CRDs only)",
    ("KServe", "Monitoring"): "a ServiceMonitor needs the Prometheus-operator CRDs (the CRDs only)",
    ("Istio", "Monitoring"): "a PodMonitor/ServiceMonitor needs the Prometheus-operator CRDs (the CRDs only)",
    ("CertManager", "Monitoring"): "a ServiceMonitor needs the Prometheus-operator CRDs (the CRDs only)",
}

# Ordering between add-ons that this stack chooses, with the reason; the code that adds the edge says why.
DESIGN_ADDON_EDGES: dict[tuple[str, str], str] = {
    ("Monitoring", "Istio"): (
        "Prometheus joins the mesh to scrape STRICT-mTLS inference pods and its sidecar is injected when its pod "
        "is admitted, so kube-prometheus-stack waits for istiod's injector (components/addons/monitoring.py)"
    ),
}


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{seconds % 60:04.1f}s"


def kind_of(resource: Registration) -> str:
    return resource.type.rsplit(":", 1)[-1]


class Graph:
    """The recorded registrations with lookups by URN, ancestry and add-on membership."""

    def __init__(self, resources: Iterable[Registration]) -> None:
        self.resources = list(resources)
        self.by_urn = {resource.urn: resource for resource in self.resources}
        roots = [r for r in self.resources if r.type == ADDONS_TYPE]
        self.addons_root = roots[0] if roots else None
        self.addon_of: dict[str, Registration] = {}
        for resource in self.resources:
            addon = self._addon_ancestor(resource)
            if addon is not None:
                self.addon_of[resource.urn] = addon

    def _addon_ancestor(self, resource: Registration) -> Registration | None:
        current: Registration | None = resource
        while current is not None and self.addons_root is not None:
            if current.parent == self.addons_root.urn:
                return current
            current = self.by_urn.get(current.parent)
        return None

    def addons(self) -> list[Registration]:
        root = self.addons_root
        return [r for r in self.resources if root is not None and r.parent == root.urn]

    def in_addons(self) -> list[Registration]:
        return [r for r in self.resources if r.urn in self.addon_of]

    def addon_edges(self) -> dict[tuple[str, str], list[tuple[Registration, Registration]]]:
        """(dependent add-on, dependency add-on) -> [(dependent resource, dependency resource)]."""
        edges: dict[tuple[str, str], list[tuple[Registration, Registration]]] = defaultdict(list)
        for resource in self.in_addons():
            for dependency in resource.dependencies:
                if dependency not in self.addon_of or dependency not in self.by_urn:
                    continue
                mine, theirs = self.addon_of[resource.urn], self.addon_of[dependency]
                if mine.urn != theirs.urn:
                    edges[kind_of(mine), kind_of(theirs)].append((resource, self.by_urn[dependency]))
        return edges

    def without(self, edges: Iterable[tuple[Registration, Registration]]) -> list[Registration]:
        """The registrations with these dependency edges removed."""
        removed: dict[str, set[str]] = defaultdict(set)
        for dependent, dependency in edges:
            removed[dependent.urn].add(dependency.urn)
        return [
            dataclasses.replace(r, dependencies=tuple(d for d in r.dependencies if d not in removed[r.urn]))
            if r.urn in removed
            else r
            for r in self.resources
        ]


def addon_chain(graph: Graph) -> Schedule:
    """The add-ons on their own: what outside them they wait for is taken as ready at t=0."""
    inside = graph.in_addons()
    urns = {r.urn for r in inside}
    isolated = [
        dataclasses.replace(
            r,
            dependencies=tuple(d for d in r.dependencies if d in urns),
            provider="",
            parent=r.parent if r.parent in urns else "",
        )
        for r in inside
    ]
    return schedule(isolated)


def path_table(plan: Schedule, steps=None) -> str:
    steps = plan.critical_path() if steps is None else steps
    lines = ["| # | resource | type | start | ready | latency s | waits for |", "|---:|---|---|---:|---:|---:|---|"]
    for index, step in enumerate(steps, 1):
        lines.append(
            f"| {index} | `{step.resource.name}` | {step.resource.type} | {minutes(step.start)} "
            f"| {minutes(step.ready)} | {step.latency:g} | {step.reason} |"
        )
    return "\n".join(lines)


def model_table(plan: Schedule) -> str:
    """The latency applied to each type present (charts by chart name), with counts."""
    rows: Counter[tuple[str, float]] = Counter()
    for urn, resource in plan.resources.items():
        seconds = plan.latencies[urn]
        if seconds > 0:
            label = resource.type
            if "helm.sh" in resource.type:
                label = f"{resource.type} `{str(resource.inputs.get('chart', '')).rsplit('/', 1)[-1]}`"
            rows[label, seconds] += 1
    lines = ["| type | latency s | count |", "|---|---:|---:|"]
    for (label, seconds), count in sorted(rows.items(), key=lambda item: (-item[0][1], item[0][0])):
        lines.append(f"| {label} | {seconds:g} | {count} |")
    return "\n".join(lines)


def reason(edge: tuple[str, str]) -> str | None:
    """Why add-on `edge[0]` waits for `edge[1]`, or None for a needless edge."""
    if edge in REQUIRED_ADDON_EDGES:
        return f"upstream: {REQUIRED_ADDON_EDGES[edge]}"
    if edge in DESIGN_ADDON_EDGES:
        return f"this stack's design: {DESIGN_ADDON_EDGES[edge]}"
    return None


def needless(graph: Graph, keep: Iterable[tuple[str, str]] | None = None) -> list[tuple[Registration, Registration]]:
    """Every dependency edge between two add-ons that has no reason (or, given `keep`, is not in it)."""
    kept = set(keep) if keep is not None else {edge for edge in graph.addon_edges() if reason(edge) is not None}
    return [pair for key, pairs in graph.addon_edges().items() if key not in kept for pair in pairs]


def target(graph: Graph, plan: Schedule, clusters: list[Registration], pools: list[Registration]) -> list[str]:
    """Is the critical path cluster + node pool + the longest add-on chain, and if not, what else is on it?"""
    assert graph.addons_root is not None
    out: list[str] = []
    cluster_ready = max(plan.timings[r.urn].ready for r in clusters)
    pool_seconds = max((latency(r) for r in pools), default=0.0)
    chain = addon_chain(graph)
    required = addon_chain(Graph(graph.without(needless(graph))))
    upstream_only = addon_chain(Graph(graph.without(needless(graph, keep=REQUIRED_ADDON_EDGES))))
    addons_ready = plan.timings[graph.addons_root.urn].ready
    tail = max(plan.total - addons_ready, 0.0)
    expected = cluster_ready + pool_seconds + required.total + tail
    out.append("longest add-on chain (the add-ons alone; what they wait for outside is taken as ready):")
    out += ["", path_table(chain), ""]
    if required.total < chain.total:
        out.append(f"with only the required add-on edges, the longest chain is {required.total:g} s:")
        out += ["", path_table(required), ""]
    if upstream_only.total < required.total:
        out.append(
            f"the design edges (DESIGN_ADDON_EDGES) cost {required.total - upstream_only.total:+g} s: with only the "
            f"edges upstream requires, the longest chain would be {upstream_only.total:g} s:"
        )
        out += ["", path_table(upstream_only), ""]
    steps = plan.critical_path()
    pool_index = max((i for i, step in enumerate(steps) if step.resource.type == NODE_GROUP_TYPE), default=None)
    addon_index = min((i for i, step in enumerate(steps) if step.resource.urn in graph.addon_of), default=None)
    if pool_index is not None and addon_index is not None and addon_index > pool_index + 1:
        hops = steps[pool_index + 1 : addon_index]
        extra = steps[addon_index].start - steps[pool_index].ready
        names = ", ".join(f"`{step.resource.name}` ({step.resource.type}, {step.latency:g} s)" for step in hops)
        out.append(f"between the node pool and the first add-on the critical path also waits for {names}: +{extra:g} s")
    if pool_index is None:
        out.append("no node pool on the critical path: the add-ons do not wait for nodes")
    out.append(
        f"cluster ready at {cluster_ready:g} s (control plane {max(latency(r) for r in clusters):g} s after its "
        f"VPC/IAM/KMS prerequisites) + node pool {pool_seconds:g} s + longest required add-on chain "
        f"{required.total:g} s + workloads after the add-ons {tail:g} s = {expected:g} s ({minutes(expected)})"
    )
    verdict = "met" if plan.total <= expected + 1e-6 else "NOT met"
    out.append(
        f"critical path {plan.total:g} s ({minutes(plan.total)}): target {verdict}"
        + (f" ({plan.total - expected:+g} s)" if verdict != "met" else "")
    )
    return out


def report(environment: str) -> str:
    recording = record_stack(environment)
    graph = Graph(recording.resources)
    plan = schedule(graph.resources)
    out = [describe(), ""]
    bearing = sum(1 for seconds in plan.latencies.values() if seconds > 0)
    out.append(
        f"stack `{environment}` under mocks: {len(graph.resources)} registrations, {bearing} with a latency "
        f"(custom resources and Helm charts), {len(graph.resources) - bearing} components/providers/local"
    )
    out += ["", "### Latency model applied (benchmarks/latency.py)", "", model_table(plan)]
    out += ["", "### Critical path", "", path_table(plan), ""]
    out.append(
        f"critical path {minutes(plan.total)} ({plan.total:.0f} s); fully serial install {minutes(plan.serial)} "
        f"({plan.serial:.0f} s); parallel speed-up x{plan.serial / plan.total:.1f}"
    )

    clusters = [r for r in graph.resources if r.type == CLUSTER_TYPE]
    pools = [r for r in graph.resources if r.type == NODE_GROUP_TYPE]
    out += ["", "### Target: cluster + node pool + longest add-on chain", ""]
    if graph.addons_root is None or not clusters:
        out.append("no EKS cluster or no add-ons in this stack: the target does not apply")
        return "\n".join(out)
    out += target(graph, plan, clusters, pools)

    out += ["", "### Edges between add-ons", ""]
    edges = graph.addon_edges()
    if not edges:
        out.append("none: every add-on installs in parallel")
    lines = [
        "| add-on | waits for | via (resource -> resource) | why | critical path without it |",
        "|---|---|---|---|---:|",
    ]
    for (mine, theirs), pairs in sorted(edges.items()):
        shorter = schedule(graph.without(pairs)).total
        via = "; ".join(sorted({f"`{a.name}` -> `{b.name}`" for a, b in pairs}))
        why = reason((mine, theirs)) or "**needless**: neither upstream nor this stack requires it"
        delta = f"{minutes(shorter)} ({shorter - plan.total:+.0f} s)"
        lines.append(f"| {mine} | {theirs} | {via} | {why} | {delta} |")
    if edges:
        out.append("\n".join(lines))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="prod", help="stack to record (stacks/<env>.yaml)")
    args = parser.parse_args(argv)
    print(report(args.env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
