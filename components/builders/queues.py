"""Kueue objects derived from the node pools: ResourceFlavors, ClusterQueues, LocalQueues, priorities.

Everything is `kueue.x-k8s.io/v1beta2` (the storage version since Kueue 0.16; v1beta1 is deprecated).
One ResourceFlavor per pool, whose node labels, taints and tolerations come from `components.pools` so
they match the nodes and the workloads' selectors exactly. Nominal quotas come from
`components.capacity.derive_quotas`: for each pool the ClusterQueues' quotas add up to exactly what the
pool can schedule at its maximum size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from components import pools
from components.builders.common import Footprint, Manifest, metadata
from components.capacity import RESOURCE_NAMES, PoolQuota, derive_quotas, pool_capacity
from components.memo import once_per_spec
from components.names import GPU_RESOURCE, POOL_ANNOTATION, POOL_CAPACITY_ANNOTATION
from components.quantity import format_cpu, format_memory
from components.spec.models import PlatformSpec, PriorityClass

API_VERSION = "kueue.x-k8s.io/v1beta2"
SHARED_QUEUE = "shared"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
COMPONENT = "queueing"


def cluster_queue_name(spec: PlatformSpec, team: str) -> str:
    """The ClusterQueue a team's LocalQueues feed: the team's own, or `shared`."""
    return SHARED_QUEUE if spec.queueing.mode == "shared" else team


def _quantities(quota: PoolQuota) -> dict[str, str | int]:
    return {"cpu": format_cpu(quota.cpu_millis), "memory": format_memory(quota.memory_bytes),
            GPU_RESOURCE: quota.gpus}


def _percent(quota: PoolQuota, percent: int) -> PoolQuota:
    return PoolQuota(quota.cpu_millis * percent // 100, quota.memory_bytes * percent // 100,
                     quota.gpus * percent // 100)


def pool_capacity_annotation(spec: PlatformSpec, pool_name: str) -> str:
    """JSON of the pool's total schedulable capacity at max size, read by the policy pack.

    Example: `{"cpu": "94", "memory": "760Gi", "nvidia.com/gpu": "16"}`.
    """
    capacity = pool_capacity(spec.node_pools[pool_name])
    assert capacity is not None, f"pool {pool_name!r} has no known capacity (validation guarantees one)"
    return json.dumps({"cpu": format_cpu(capacity.cpu_millis), "memory": format_memory(capacity.memory_bytes),
                       GPU_RESOURCE: str(capacity.gpus)})


def resource_flavor(spec: PlatformSpec, pool_name: str) -> Manifest:
    """The flavor of one pool: its node labels, taints and the tolerations for them (cluster-scoped)."""
    pool = spec.node_pools[pool_name]
    taints = pools.node_taints(pool)
    flavor_spec: Manifest = {"nodeLabels": pools.node_labels(pool_name, pool)}
    if taints:
        flavor_spec["nodeTaints"] = [
            {"key": taint.key, **({"value": taint.value} if taint.value else {}), "effect": taint.effect}
            for taint in taints
        ]
        flavor_spec["tolerations"] = [taint.toleration() for taint in taints]
    return {
        "apiVersion": API_VERSION,
        "kind": "ResourceFlavor",
        "metadata": metadata(pool_name, COMPONENT, app="resource-flavor", annotations={
            POOL_ANNOTATION: pool_name,
            POOL_CAPACITY_ANNOTATION: pool_capacity_annotation(spec, pool_name),
        }),
        "spec": flavor_spec,
    }


def resource_flavors(spec: PlatformSpec) -> dict[str, Manifest]:
    return {name: resource_flavor(spec, name) for name in sorted(spec.node_pools)
            if pool_capacity(spec.node_pools[name]) is not None}


def _flavor_resources(quota: PoolQuota, borrowing: PoolQuota | None, lending: PoolQuota | None) -> list[Manifest]:
    """One entry per covered resource, in the order of `coveredResources` (a CEL rule of the CRD)."""
    nominal = _quantities(quota)
    borrow = _quantities(borrowing) if borrowing else {}
    lend = _quantities(lending) if lending else {}
    entries = []
    for resource in RESOURCE_NAMES:
        entry: Manifest = {"name": resource, "nominalQuota": nominal[resource]}
        if borrowing is not None:
            entry["borrowingLimit"] = borrow[resource]
        if lending is not None:
            entry["lendingLimit"] = lend[resource]
        entries.append(entry)
    return entries


def cluster_queue(spec: PlatformSpec, name: str, quotas: dict[str, PoolQuota]) -> Manifest:
    """One ClusterQueue. Borrowing and lending limits are percentages of the nominal quota, per resource,
    and only exist with a cohort (a CEL rule rejects `borrowingLimit` without `cohortName`)."""
    if name == SHARED_QUEUE and spec.queueing.mode == "shared":
        namespace_selector: Manifest = {}  # every namespace: all teams' LocalQueues feed this queue
        cohort, borrowing_percent, lending_percent = None, None, None
    else:
        team = spec.teams[name]
        namespace_selector = {"matchLabels": {NAMESPACE_NAME_LABEL: team.namespace or name}}
        cohort = team.queue.cohort
        borrowing_percent = team.queue.borrowing_limit_percent if cohort else None
        lending_percent = team.queue.lending_limit_percent if cohort else None
    flavors = [
        {
            "name": pool_name,
            "resources": _flavor_resources(
                quota,
                _percent(quota, borrowing_percent) if borrowing_percent is not None else None,
                _percent(quota, lending_percent) if lending_percent is not None else None,
            ),
        }
        for pool_name, quota in sorted(quotas.items())
    ]
    queue_spec: Manifest = {
        "namespaceSelector": namespace_selector,
        "queueingStrategy": "BestEffortFIFO",
        "preemption": {"withinClusterQueue": "LowerPriority"},
        "resourceGroups": [{"coveredResources": list(RESOURCE_NAMES), "flavors": flavors}] if flavors else [],
    }
    if cohort:
        queue_spec["cohortName"] = cohort
        # Lent capacity comes back: a queue below its nominal quota may preempt borrowers in the cohort.
        queue_spec["preemption"]["reclaimWithinCohort"] = "Any"
    return {
        "apiVersion": API_VERSION,
        "kind": "ClusterQueue",
        "metadata": metadata(name, COMPONENT, app="cluster-queue"),
        "spec": queue_spec,
    }


def cluster_queues(spec: PlatformSpec) -> dict[str, Manifest]:
    """Per team (or the one `shared` queue), with the nominal quotas of `derive_quotas`."""
    return {name: cluster_queue(spec, name, quotas) for name, quotas in derive_quotas(spec).items()}


def workload_priority_class(name: str, priority: PriorityClass) -> Manifest:
    """Kueue's own priority: top-level `value` (no `spec`), cluster-scoped."""
    manifest: Manifest = {
        "apiVersion": API_VERSION,
        "kind": "WorkloadPriorityClass",
        "metadata": metadata(name, COMPONENT, app="workload-priority-class"),
        "value": priority.value,
    }
    if priority.description:
        manifest["description"] = priority.description
    return manifest


def local_queue(spec: PlatformSpec, team: str, name: str) -> Manifest:
    namespace = spec.teams[team].namespace or team
    return {
        "apiVersion": API_VERSION,
        "kind": "LocalQueue",
        "metadata": metadata(name, COMPONENT, namespace=namespace, app="local-queue"),
        "spec": {"clusterQueue": cluster_queue_name(spec, team)},
    }


# ------------------------------------------------------------------------------ admissible capacity


@dataclass(frozen=True)
class Admissible:
    """What Kueue may admit for one ClusterQueue on one pool: nominal plus what it can borrow."""

    nominal: PoolQuota
    borrowable: PoolQuota

    @property
    def total(self) -> Footprint:
        return Footprint(self.nominal.cpu_millis + self.borrowable.cpu_millis,
                         self.nominal.memory_bytes + self.borrowable.memory_bytes,
                         self.nominal.gpus + self.borrowable.gpus)


def _lendable(spec: PlatformSpec, team: str, quota: PoolQuota) -> PoolQuota:
    percent = spec.teams[team].queue.lending_limit_percent
    return _percent(quota, percent) if percent is not None else quota


@once_per_spec
def admissible(spec: PlatformSpec) -> dict[str, dict[str, Admissible]]:
    """Per ClusterQueue and pool: nominal quota plus the most it can borrow from its cohort.

    Borrowing is bounded twice: by the queue's own `borrowingLimit` (unlimited when unset) and by what the
    other cohort members lend (their `lendingLimit`, else their whole nominal quota).
    """
    quotas = derive_quotas(spec)
    result: dict[str, dict[str, Admissible]] = {}
    for queue, by_pool in quotas.items():
        cohort = spec.teams[queue].queue.cohort if queue in spec.teams and spec.queueing.mode != "shared" else None
        members = [team for team, t in spec.teams.items() if cohort and t.queue.cohort == cohort and team != queue]
        result[queue] = {}
        for pool_name, quota in by_pool.items():
            lent = [_lendable(spec, member, quotas[member][pool_name]) for member in members
                    if pool_name in quotas.get(member, {})]
            pooled = PoolQuota(sum(q.cpu_millis for q in lent), sum(q.memory_bytes for q in lent),
                               sum(q.gpus for q in lent))
            percent = spec.teams[queue].queue.borrowing_limit_percent if cohort else 0
            if percent is not None:
                limit = _percent(quota, percent)
                pooled = PoolQuota(min(pooled.cpu_millis, limit.cpu_millis),
                                   min(pooled.memory_bytes, limit.memory_bytes), min(pooled.gpus, limit.gpus))
            result[queue][pool_name] = Admissible(quota, pooled)
    return result
