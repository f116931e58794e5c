"""A team's namespace and its guard rails: ResourceQuota, LimitRange, NetworkPolicies, ServiceAccount,
Kueue LocalQueues.

ResourceQuota (`requests.cpu`, `requests.memory`, `requests.nvidia.com/gpu`, `limits.cpu`,
`limits.memory`) is derived, not declared, as the sum of:
- what Kueue may admit for the team (with Kueue present): per pool of the team, the ClusterQueue's
  nominal quota plus what it can borrow from its cohort (bounded by its borrowing limit and by what the
  others lend). In `shared` mode the team may use the whole of each of its pools.
- what runs outside Kueue: every model service of the team at max replicas, plus its canary replicas and
  one rolling-update surge pod, each pod with its Istio sidecar (pinned to the capacity maths' figures)
  and KServe's storage-initializer init container; and, without Kueue, every Ray workload at its
  maximum size.
Containers set limits equal to requests, so `limits.*` differ from `requests.*` only by the storage
initializer's larger limits. Kubernetes accepts only `requests.` for extended resources: the GPU limit
equals the request, so `requests.nvidia.com/gpu` caps GPUs.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.builders import ray, serving
from components.builders.common import (
    TEAM_SERVICE_ACCOUNT,
    Footprint,
    Manifest,
    metadata,
)
from components.builders.context import BuildContext
from components.builders.queues import NAMESPACE_NAME_LABEL, admissible, cluster_queue_name, local_queue
from components.capacity import node_allocatable, team_pools
from components.names import (
    GPU_RESOURCE,
    INGRESS_NAMESPACE,
    INGRESS_SELECTOR,
    KUBERAY_NAMESPACE,
    MONITORING_NAMESPACE,
)
from components.quantity import format_cpu, format_memory

COMPONENT = "team"
TEAM_LABEL = "gpuplat.io/team"
RAY_NODE_LABEL = "ray.io/is-ray-node"
RAY_NODE_TYPE_LABEL = "ray.io/node-type"
# Defaults for containers that declare nothing (ours always declare): small and Guaranteed.
DEFAULT_CONTAINER = Footprint(500, 512 * 2**20, 0)


@dataclass(frozen=True)
class QuotaBreakdown:
    """The parts of a team's ResourceQuota (see the module docstring)."""

    queued: Footprint
    serving_requests: Footprint
    serving_limits: Footprint
    unqueued_ray: Footprint

    @property
    def requests(self) -> Footprint:
        return self.queued + self.serving_requests + self.unqueued_ray

    @property
    def limits(self) -> Footprint:
        return self.queued + self.serving_limits + self.unqueued_ray


def quota_breakdown(ctx: BuildContext, team: str) -> QuotaBreakdown:
    spec = ctx.spec
    queued = Footprint()
    if ctx.kueue:
        by_pool = admissible(spec).get(cluster_queue_name(spec, team), {})
        for pool_name in team_pools(spec, team):
            if pool_name in by_pool:
                queued = queued + by_pool[pool_name].total
    serving_requests, serving_limits = Footprint(), Footprint()
    for service in spec.model_services.values():
        if service.team == team:
            requests, limits = serving.pod_footprint(ctx, service)
            count = serving.max_pods(service)
            serving_requests = serving_requests + requests.times(count)
            serving_limits = serving_limits + limits.times(count)
    unqueued_ray = Footprint()
    if not ctx.kueue:
        for cluster in spec.ray_clusters.values():
            if cluster.team == team:
                unqueued_ray = unqueued_ray + ray.cluster_footprint(ctx, cluster)
        for job in spec.ray_jobs.values():
            if job.team == team:
                unqueued_ray = unqueued_ray + ray.cluster_footprint(ctx, job.cluster, job=True)
        for ray_service in spec.ray_services.values():
            if ray_service.team == team:
                unqueued_ray = unqueued_ray + ray.cluster_footprint(ctx, ray_service.cluster)
    return QuotaBreakdown(queued, serving_requests, serving_limits, unqueued_ray)


# ------------------------------------------------------------------------------------------ objects


def namespace(ctx: BuildContext, team: str) -> Manifest:
    """Istio injection when the mesh is present. Pod Security: `restricted` is warned and audited; it is
    enforced (`baseline`) only without Istio, whose istio-init container needs NET_ADMIN/NET_RAW."""
    labels = {TEAM_LABEL: team, "pod-security.kubernetes.io/warn": "restricted",
              "pod-security.kubernetes.io/audit": "restricted"}
    if ctx.istio:
        labels["istio-injection"] = "enabled"
    else:
        labels["pod-security.kubernetes.io/enforce"] = "baseline"
    return {"apiVersion": "v1", "kind": "Namespace",
            "metadata": metadata(ctx.namespace(team), COMPONENT, app=team, labels=labels)}


def resource_quota(ctx: BuildContext, team: str) -> Manifest:
    breakdown = quota_breakdown(ctx, team)
    requests, limits = breakdown.requests, breakdown.limits
    hard = {
        "requests.cpu": format_cpu(requests.cpu_millis),
        "requests.memory": format_memory(requests.memory_bytes),
        f"requests.{GPU_RESOURCE}": str(requests.gpus),
        "limits.cpu": format_cpu(limits.cpu_millis),
        "limits.memory": format_memory(limits.memory_bytes),
    }
    return {"apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": metadata(team, COMPONENT, namespace=ctx.namespace(team)),
            "spec": {"hard": hard}}


def limit_range(ctx: BuildContext, team: str) -> Manifest:
    """Defaults for containers that declare nothing (requests = limits), and a per-container maximum of the
    largest node the team can use, so nothing unschedulable is admitted."""
    defaults = {"cpu": format_cpu(DEFAULT_CONTAINER.cpu_millis),
                "memory": format_memory(DEFAULT_CONTAINER.memory_bytes)}
    limit: Manifest = {"type": "Container", "default": dict(defaults), "defaultRequest": dict(defaults)}
    nodes = [node_allocatable(ctx.spec.node_pools[pool]) for pool in team_pools(ctx.spec, team)]
    known = [node for node in nodes if node is not None]
    if known:
        limit["max"] = {"cpu": format_cpu(max(node.cpu_millis for node in known)),
                        "memory": format_memory(max(node.memory_bytes for node in known))}
    return {"apiVersion": "v1", "kind": "LimitRange",
            "metadata": metadata(team, COMPONENT, namespace=ctx.namespace(team)),
            "spec": {"limits": [limit]}}


def _from_namespace(name: str, pod_labels: dict[str, str] | None = None) -> Manifest:
    peer: Manifest = {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: name}}}
    if pod_labels:
        peer["podSelector"] = {"matchLabels": dict(pod_labels)}
    return peer


def _network_policy(ctx: BuildContext, team: str, name: str, pod_selector: Manifest,
                    ingress: list[Manifest] | None) -> Manifest:
    spec: Manifest = {"podSelector": pod_selector, "policyTypes": ["Ingress"]}
    if ingress is not None:
        spec["ingress"] = ingress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": metadata(name, COMPONENT, namespace=ctx.namespace(team), app=team), "spec": spec}


def _tcp(*ports: int) -> list[Manifest]:
    return [{"protocol": "TCP", "port": port} for port in sorted(set(ports))]


def network_policies(ctx: BuildContext, team: str) -> dict[str, Manifest]:
    """Deny all ingress, then allow exactly: the gateway to model and Ray serving/dashboard ports, model
    clients from `allowed_namespaces`, Ray pods among themselves and from the KubeRay operator, and
    Prometheus from the monitoring namespace. Egress stays open: models download from S3 and the hub."""
    spec = ctx.spec
    policies = {"default-deny-ingress": _network_policy(ctx, team, "default-deny-ingress", {}, None)}
    services = {name: service for name, service in spec.model_services.items() if service.team == team}
    gateway = _from_namespace(INGRESS_NAMESPACE, INGRESS_SELECTOR)
    if ctx.istio and services:
        ports = _tcp(*(serving.served_port(service) for service in services.values()))
        policies["allow-gateway-to-models"] = _network_policy(
            ctx, team, "allow-gateway-to-models",
            {"matchExpressions": [{"key": serving.ISVC_LABEL, "operator": "Exists"}]},
            [{"from": [gateway], "ports": ports}],
        )
    for name, service in sorted(services.items()):
        if service.allowed_namespaces:
            policies[f"allow-{name}-clients"] = _network_policy(
                ctx, team, f"allow-{name}-clients", {"matchLabels": {serving.ISVC_LABEL: name}},
                [{"from": [_from_namespace(other) for other in service.allowed_namespaces],
                  "ports": _tcp(serving.served_port(service))}],
            )
    has_ray = any(w.team == team for section in (spec.ray_clusters, spec.ray_jobs, spec.ray_services)
                  for w in section.values())
    if ctx.kuberay and has_ray:
        ray_pods = {"matchLabels": {RAY_NODE_LABEL: "yes"}}
        policies["allow-ray-in-namespace"] = _network_policy(
            ctx, team, "allow-ray-in-namespace", ray_pods, [{"from": [{"podSelector": {}}]}])
        policies["allow-kuberay-to-ray-head"] = _network_policy(
            ctx, team, "allow-kuberay-to-ray-head", {"matchLabels": {RAY_NODE_TYPE_LABEL: "head"}},
            [{"from": [_from_namespace(KUBERAY_NAMESPACE)],
              "ports": _tcp(ray.DASHBOARD_PORT, ray.DASHBOARD_AGENT_PORT)}],
        )
        if ctx.istio:
            policies["allow-gateway-to-ray"] = _network_policy(
                ctx, team, "allow-gateway-to-ray", ray_pods,
                [{"from": [gateway], "ports": _tcp(ray.DASHBOARD_PORT, ray.SERVE_PORT)}],
            )
    if ctx.monitoring:
        policies["allow-monitoring"] = _network_policy(
            ctx, team, "allow-monitoring", {}, [{"from": [_from_namespace(MONITORING_NAMESPACE)]}])
    return policies


def mesh_policy(ctx: BuildContext, team: str) -> Manifest | None:
    """With Istio, the mesh default-denies: pods of one team may still call each other (over mTLS)."""
    if not ctx.istio:
        return None
    namespace = ctx.namespace(team)
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": metadata("allow-same-namespace", COMPONENT, namespace=namespace, app=team),
        "spec": {"action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": [namespace]}}]}]},
    }


def service_account(ctx: BuildContext, team: str) -> Manifest:
    """The team's workload identity (Ray pods run as it); no API token is mounted by default."""
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": metadata(TEAM_SERVICE_ACCOUNT, COMPONENT, namespace=ctx.namespace(team), app=team),
            "automountServiceAccountToken": False}


def local_queues(ctx: BuildContext, team: str) -> dict[str, Manifest]:
    """One LocalQueue per `local_queues` name, feeding the team's ClusterQueue (or `shared`)."""
    if not ctx.kueue:
        return {}
    return {name: local_queue(ctx.spec, team, name) for name in ctx.spec.teams[team].local_queues}
