"""Kueue rules: workloads carry a queue, references resolve, quotas cover what workloads request and fit
what the pools can hold, and flavors describe the nodes they stand for.

A dangling reference leaves a queue inactive and workloads pending with no error at deploy time.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from policies.k8s import (
    PRIORITY_LABEL,
    QUEUE_LABEL,
    format_number,
    is_unknown,
    mapping,
    mappings,
    matching_tolerations,
    quantity,
    taint_effect,
    text,
    texts,
    version_of,
)
from policies.model import Param, Params, Resource, Rule, Stack, Violation
from policies.pools import flavor_pool, node_groups, pool_capacity

ADMITTED_KINDS = frozenset({"Job", "RayJob", "RayCluster", "RayService", "JobSet", "InferenceService"})
# Kinds Kueue admits through its own integrations. An InferenceService is admitted only through the pods of
# its Deployment, a serving design choice: add it here (or use managedNamespaces) where serving is queued.
GPU_KINDS = ["Job", "JobSet", "RayJob", "RayCluster", "RayService"]
MAX_RESOURCE_GROUPS = 16


def queue_label(resource: Resource, params: Params) -> Iterator[Violation]:
    if resource.labels.get(QUEUE_LABEL) or is_unknown(resource.labels.get(QUEUE_LABEL)):
        return
    if (
        resource.kind == "RayJob"
        and mapping(resource.spec.get("clusterSelector"))
        and "rayClusterSpec" not in resource.spec
    ):
        return  # runs on an existing cluster: nothing for Kueue to admit
    managed = resource.namespace in texts(params["managedNamespaces"])
    if managed or (resource.kind in texts(params["gpuKinds"]) and any(pod.gpus for pod in resource.pods)):
        reason = "runs in a Kueue-managed namespace" if managed else "requests GPUs"
        yield Violation(
            "metadata.labels", f"{resource.kind} {reason} but has no {QUEUE_LABEL} label, so it bypasses quota"
        )


def limits_need_cohort(resource: Resource, params: Params) -> Iterator[Violation]:
    spec = resource.spec
    if version_of(resource.type) == "v1beta2" and "cohort" in spec:
        yield Violation("spec.cohort", "v1beta2 renamed spec.cohort to spec.cohortName")
    cohort = spec.get("cohortName") or spec.get("cohort")
    groups = mappings(spec.get("resourceGroups"))
    if len(groups) > MAX_RESOURCE_GROUPS:
        yield Violation(
            "spec.resourceGroups", f"{len(groups)} resource groups exceed Kueue's limit of {MAX_RESOURCE_GROUPS}"
        )
    for g, group in groups:
        for f, flavor in mappings(group.get("flavors")):
            for r, entry in mappings(flavor.get("resources")):
                path = f"spec.resourceGroups[{g}].flavors[{f}].resources[{r}]"
                for limit in ("borrowingLimit", "lendingLimit"):
                    if entry.get(limit) is not None and not cohort:
                        yield Violation(f"{path}.{limit}", f"{limit} without a cohort")
                lending, nominal = quantity(entry.get("lendingLimit")), quantity(entry.get("nominalQuota"))
                if lending is not None and nominal is not None and lending > nominal:
                    yield Violation(
                        f"{path}.lendingLimit",
                        f"lendingLimit {entry.get('lendingLimit')} exceeds nominalQuota {entry.get('nominalQuota')}",
                    )


# --- stack rules ----------------------------------------------------------------------------------------


def _queued(stack: Stack) -> Iterator[tuple[Resource, str]]:
    for resource in stack.resources:
        name = resource.labels.get(QUEUE_LABEL)
        if isinstance(name, str) and name:
            yield resource, name


def refs_resolve(stack: Stack, params: Params) -> Iterator[Violation]:
    cluster_queues = {r.display_name for r in stack.of_kind("ClusterQueue")}
    flavors = {r.display_name for r in stack.of_kind("ResourceFlavor")}
    local_queues = {(r.namespace, r.display_name) for r in stack.of_kind("LocalQueue")}
    priorities = {r.display_name for r in stack.of_kind("WorkloadPriorityClass")}
    for queue in stack.of_kind("LocalQueue"):
        target = queue.spec.get("clusterQueue")
        if isinstance(target, str) and target not in cluster_queues:
            yield Violation("spec.clusterQueue", f"ClusterQueue {target!r} is not declared", queue)
    for cluster_queue in stack.of_kind("ClusterQueue"):
        for g, group in mappings(cluster_queue.spec.get("resourceGroups")):
            for f, flavor in mappings(group.get("flavors")):
                name = flavor.get("name")
                if isinstance(name, str) and name not in flavors:
                    yield Violation(
                        f"spec.resourceGroups[{g}].flavors[{f}].name",
                        f"ResourceFlavor {name!r} is not declared",
                        cluster_queue,
                    )
    for workload, queue_name in _queued(stack):
        if workload.kind != "LocalQueue" and (workload.namespace, queue_name) not in local_queues:
            yield Violation(
                "metadata.labels",
                f"LocalQueue {queue_name!r} is not declared in namespace {workload.namespace!r}",
                workload,
            )
    for workload in stack.resources:
        priority = workload.labels.get(PRIORITY_LABEL)
        if isinstance(priority, str) and priority and priority not in priorities:
            yield Violation("metadata.labels", f"WorkloadPriorityClass {priority!r} is not declared", workload)


def _requested(workload: Resource) -> set[str]:
    """Resource names the workload's pods ask for (a limit implies the request); zero amounts excepted."""
    names: set[str] = set()
    for pod in workload.pods:
        for container in pod.containers:
            for values in (container.requests, container.limits):
                names.update(n for n, v in values.items() if isinstance(n, str) and quantity(v) != 0)
    return names


def covers_requests(stack: Stack, params: Params) -> Iterator[Violation]:
    local_queues = {(r.namespace, r.display_name): r for r in stack.of_kind("LocalQueue")}
    cluster_queues = {r.display_name: r for r in stack.of_kind("ClusterQueue")}
    for workload, queue_name in _queued(stack):
        local_queue = local_queues.get((workload.namespace, queue_name))
        cluster_queue = cluster_queues.get(text(local_queue.spec.get("clusterQueue")) or "") if local_queue else None
        if cluster_queue is None:
            continue  # reported by kueue-refs-resolve
        covered = {
            n
            for _, group in mappings(cluster_queue.spec.get("resourceGroups"))
            for n in texts(group.get("coveredResources"))
        }
        excluded = tuple(texts(params["excludedResourcePrefixes"]))
        missing = sorted(name for name in _requested(workload) - covered if not name.startswith(excluded))
        if missing:
            yield Violation(
                "metadata.labels",
                f"ClusterQueue {cluster_queue.display_name!r} does not cover {', '.join(missing)}: "
                "the workload stays pending",
                workload,
            )


def quota_within_capacity(stack: Stack, params: Params) -> Iterator[Violation]:
    groups = node_groups(stack)
    flavors = {r.display_name: r for r in stack.of_kind("ResourceFlavor")}
    totals: dict[tuple[str, str], Decimal] = {}
    first: dict[tuple[str, str], tuple[Resource, str]] = {}
    for cluster_queue in stack.of_kind("ClusterQueue"):
        for g, group in mappings(cluster_queue.spec.get("resourceGroups")):
            for f, flavor in mappings(group.get("flavors")):
                for r, entry in mappings(flavor.get("resources")):
                    key = (text(flavor.get("name")) or "", text(entry.get("name")) or "")
                    amount = quantity(entry.get("nominalQuota"))
                    if amount is not None:
                        totals[key] = totals.get(key, Decimal(0)) + amount
                        first.setdefault(
                            key, (cluster_queue, f"spec.resourceGroups[{g}].flavors[{f}].resources[{r}].nominalQuota")
                        )
    for (flavor_name, resource_name), total in totals.items():
        flavor_resource = flavors.get(flavor_name)
        capacity = pool_capacity(flavor_resource, groups) if flavor_resource is not None else None
        available = (capacity or {}).get(resource_name)
        if available is not None and total > available:
            cluster_queue, path = first[(flavor_name, resource_name)]
            yield Violation(
                path,
                f"nominal {resource_name} quota on flavor {flavor_name!r} totals {format_number(total)}, "
                f"more than pool capacity {format_number(available)}: admitted workloads would stay pending",
                cluster_queue,
            )


def flavor_matches_pool(stack: Stack, params: Params) -> Iterator[Violation]:
    groups = node_groups(stack)
    for flavor in stack.of_kind("ResourceFlavor"):
        pool = flavor_pool(flavor)
        labels = {k: v for k, v in mapping(flavor.spec.get("nodeLabels")).items()}
        taints = [(i, t) for i, t in mappings(flavor.spec.get("nodeTaints"))]
        tolerations = flavor.spec.get("tolerations")
        for group in (g for g in groups if pool and g.pool == pool):
            name = group.resource.name
            wrong = sorted(k for k, v in labels.items() if group.labels.get(str(k)) != v)
            if wrong:
                yield Violation(
                    "spec.nodeLabels",
                    f"node group {name!r} does not carry {', '.join(f'{k}={labels[k]}' for k in wrong)}",
                    flavor,
                )
            for index, taint in taints:
                declared = (taint.get("key"), taint.get("value") or "", taint.get("effect"))
                if declared not in group.taints:
                    yield Violation(
                        f"spec.nodeTaints[{index}]",
                        f"node group {name!r} has no taint {declared[0]}={declared[1]}:{declared[2]}",
                        flavor,
                    )
            flavor_taints = {(t.get("key"), t.get("value") or "", taint_effect(t.get("effect"))) for _, t in taints}
            for key, value, effect in group.taints:
                if (key, value, effect) not in flavor_taints and not matching_tolerations(
                    tolerations, key, effect, value
                ):
                    yield Violation(
                        "spec.nodeTaints",
                        f"node group {name!r} is tainted {key}={value}:{effect} "
                        "but the flavor neither declares nor tolerates it",
                        flavor,
                    )


RULES = [
    Rule(
        "kueue-queue-label",
        "GPU batch workloads (and any admitted kind in managed namespaces) carry the Kueue queue-name label.",
        "high",
        "mandatory",
        "resource",
        queue_label,
        ADMITTED_KINDS,
        params={
            "gpuKinds": Param(GPU_KINDS, "strings", "kinds that need a queue as soon as they request GPUs"),
            "managedNamespaces": Param([], "strings", "namespaces where every admitted kind needs a queue"),
        },
    ),
    Rule(
        "kueue-limits-need-cohort",
        "ClusterQueues use borrowing/lending limits only with a cohort, lend at most their quota, and have "
        "<= 16 resource groups.",
        "high",
        "mandatory",
        "resource",
        limits_need_cohort,
        frozenset({"ClusterQueue"}),
    ),
    Rule(
        "kueue-refs-resolve",
        "LocalQueue -> ClusterQueue -> ResourceFlavor, queue-name -> LocalQueue in the namespace and "
        "priority-class -> WorkloadPriorityClass all resolve.",
        "high",
        "mandatory",
        "stack",
        refs_resolve,
    ),
    Rule(
        "kueue-covers-gpu",
        "The ClusterQueue behind a workload's queue covers every resource it requests (GPUs included).",
        "high",
        "mandatory",
        "stack",
        covers_requests,
        params={
            "excludedResourcePrefixes": Param(
                [], "strings", "Kueue's resources.excludeResourcePrefixes: requested resources Kueue ignores"
            )
        },
    ),
    Rule(
        "kueue-quota-within-capacity",
        "Nominal quota per flavor fits the pool's capacity (node groups at maxSize, else the flavor's capacity "
        "annotation).",
        "high",
        "advisory",
        "stack",
        quota_within_capacity,
    ),
    Rule(
        "kueue-flavor-matches-pool",
        "ResourceFlavor node labels and taints match the node groups of its pool.",
        "high",
        "mandatory",
        "stack",
        flavor_matches_pool,
    ),
]
