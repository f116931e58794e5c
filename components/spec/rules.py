"""Cross-field rules of the platform spec: references resolve, bounds are ordered, pods fit their pools.

Each rule yields `(dotted path, reason)`. `check` runs them all and never stops at the first problem.
References to entries that exist but are structurally broken are not reported again (`declared`).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from components.capacity import (
    is_gpu_pool,
    misfits,
    node_allocatable,
    node_instance,
    over_commit,
    pod_request,
    team_pools,
)
from components.catalogue import lookup
from components.names import model_host
from components.network import subnet_plan
from components.spec.models import (
    Eks,
    PlatformSpec,
    RayClusterShape,
    Replicas,
    Resources,
)

Declared = dict[str, set[str]]
Problem = tuple[str, str]

ADDON_NAMES = ("gpu", "kuberay", "kueue", "cert_manager", "kserve", "monitoring", "istio")
RESERVED_NAMESPACES = frozenset({
    "default", "kube-system", "kube-public", "kube-node-lease", "istio-system", "istio-ingress",
    "cert-manager", "kserve", "kueue-system", "kuberay-system", "monitoring", "gpu-system",
})
# Kueue admits at most 18 PodSets: the head plus 17 worker groups (rayjob_webhook.go).
MAX_QUEUED_WORKER_GROUPS = 17


class _Context:
    """Lookups shared by the rules."""

    def __init__(self, spec: PlatformSpec, declared: Declared, present: set[str]):
        self.spec = spec
        self.declared = declared
        self.present = present
        system = [name for name, pool in spec.node_pools.items() if pool.system]
        self.system_pool = system[0] if len(system) == 1 else None
        self.namespaces = {name: team.namespace or name for name, team in spec.teams.items()}

    def known(self, section: str, name: str) -> bool:
        return name in getattr(self.spec, section) or name in self.declared.get(section, set())

    def queued(self) -> bool:
        return "kueue" in self.present


def _replicas(path: str, replicas: Replicas) -> Iterator[Problem]:
    if replicas.min > replicas.max:
        yield f"{path}.min", f"min {replicas.min} is greater than max {replicas.max}"


def _pod_fits(ctx: _Context, path: str, pool_name: str | None, resources: Resources) -> Iterator[Problem]:
    """A pod must target a known pool, ask GPUs only of a GPU pool and fit on one of its nodes."""
    if pool_name is None:
        return
    if pool_name not in ctx.spec.node_pools:
        if not ctx.known("node_pools", pool_name):
            yield f"{path}.pool", f"unknown node pool {pool_name!r}"
        return
    pool = ctx.spec.node_pools[pool_name]
    node = node_allocatable(pool)
    if node is None:
        return  # reported on the pool itself
    if resources.gpus and not is_gpu_pool(pool):
        yield f"{path}.resources.gpus", f"asks for {resources.gpus} GPUs but pool {pool_name!r} has no GPUs"
        return
    sidecar = "istio" in ctx.present
    for reason in misfits(pod_request(resources, sidecar), node):
        yield f"{path}.resources", f"{reason} in pool {pool_name!r} (after the system reserve)"


def _team_ref(ctx: _Context, path: str, team: str, pool: str | None = None) -> Iterator[Problem]:
    if team not in ctx.spec.teams:
        if not ctx.known("teams", team):
            yield f"{path}.team", f"unknown team {team!r}"
        return
    if pool is not None and pool in ctx.spec.node_pools and pool not in team_pools(ctx.spec, team):
        yield f"{path}.pool", f"team {team!r} may not use pool {pool!r} (see teams.{team}.pools)"


def check_cluster(ctx: _Context) -> Iterator[Problem]:
    cluster = ctx.spec.cluster
    if cluster.mode == "eks" and cluster.eks is None:
        yield "cluster.eks", "required when cluster.mode is 'eks'"
    if cluster.mode == "existing" and cluster.eks is not None:
        yield "cluster.eks", "only allowed when cluster.mode is 'eks'"
    if cluster.mode == "eks" and (cluster.kubeconfig or cluster.context):
        yield "cluster.kubeconfig", "only allowed when cluster.mode is 'existing'"
    if cluster.eks is not None:
        yield from _eks(cluster.eks)


def _eks(eks: Eks) -> Iterator[Problem]:
    if not eks.vpc.subnet_ids:
        try:
            subnet_plan(eks.vpc.cidr, eks.vpc.availability_zones)
        except ValueError as error:
            yield "cluster.eks.vpc.cidr", str(error)
    principals = [entry.principal_arn for entry in eks.access_entries]
    for index, principal in enumerate(principals):
        if principal in principals[:index]:
            yield f"cluster.eks.access_entries[{index}].principal_arn", f"{principal} already has an access entry"


def check_pools(ctx: _Context) -> Iterator[Problem]:
    spec = ctx.spec
    systems = [name for name, pool in spec.node_pools.items() if pool.system]
    if len(systems) != 1:
        yield "node_pools", f"exactly one pool must have system: true (found {len(systems)})"
    for name, pool in spec.node_pools.items():
        path = f"node_pools.{name}"
        desired = pool.desired_nodes if pool.desired_nodes is not None else pool.min_nodes
        if not pool.min_nodes <= desired <= pool.max_nodes:
            yield f"{path}.desired_nodes", (
                f"must satisfy min_nodes <= desired_nodes <= max_nodes ({pool.min_nodes} <= {desired} <= "
                f"{pool.max_nodes})"
            )
        if spec.cluster.mode == "eks" and not pool.instance_types:
            yield f"{path}.instance_types", "required when cluster.mode is 'eks'"
        unknown = [t for t in pool.instance_types if lookup(t) is None]
        if unknown and pool.capacity is None:
            yield f"{path}.capacity", (
                f"instance type(s) {', '.join(unknown)} are not in the catalogue: declare capacity"
            )
        if not pool.instance_types and pool.capacity is None:
            yield f"{path}.capacity", "declare instance_types or capacity (vcpu, memory_gib, gpus)"
        archs = {found.arch for instance_type in pool.instance_types if (found := lookup(instance_type)) is not None}
        if len(archs) > 1:
            yield f"{path}.instance_types", f"mixes CPU architectures {sorted(archs)}: one AMI cannot serve both"
        instance = node_instance(pool)
        if instance is None:
            continue
        if pool.system and instance.gpus:
            yield f"{path}.system", "the system pool must not be a GPU pool (GPU nodes are tainted)"
        if pool.mig_strategy != "none" and not instance.mig_capable:
            yield f"{path}.mig_strategy", f"{instance.gpu_model or 'this pool'} does not support MIG"
        if pool.time_slicing_replicas and not instance.gpus:
            yield f"{path}.time_slicing_replicas", "time-slicing needs a GPU pool"
        if pool.time_slicing_replicas and pool.mig_strategy != "none":
            yield f"{path}.time_slicing_replicas", "time-slicing and MIG cannot be combined on one pool"


def check_teams(ctx: _Context) -> Iterator[Problem]:
    spec = ctx.spec
    owners: dict[str, str] = {}
    for name, team in spec.teams.items():
        path = f"teams.{name}"
        namespace = ctx.namespaces[name]
        if namespace in RESERVED_NAMESPACES:
            yield f"{path}.namespace", f"{namespace!r} is reserved for the platform"
        if namespace in owners:
            yield f"{path}.namespace", f"namespace {namespace!r} is already used by team {owners[namespace]!r}"
        owners.setdefault(namespace, name)
        for index, pool in enumerate(team.pools or []):
            if pool not in spec.node_pools and not ctx.known("node_pools", pool):
                yield f"{path}.pools[{index}]", f"unknown node pool {pool!r}"
        if len(set(team.local_queues)) != len(team.local_queues):
            yield f"{path}.local_queues", "names must be unique"
        queue = team.queue
        if queue.cohort is None and (queue.borrowing_limit_percent is not None
                                     or queue.lending_limit_percent is not None):
            yield f"{path}.queue.cohort", "borrowing and lending limits need a cohort"
        if spec.queueing.mode == "shared" and (queue.quotas or queue.cohort):
            yield f"{path}.queue", "per-team quotas and cohorts need queueing.mode: per_team"
        for pool in queue.quotas:
            if pool not in spec.node_pools:
                if not ctx.known("node_pools", pool):
                    yield f"{path}.queue.quotas.{pool}", f"unknown node pool {pool!r}"
            elif pool not in team_pools(spec, name):
                yield f"{path}.queue.quotas.{pool}", f"team {name!r} may not use pool {pool!r}"
    for pool, resource, reason in over_commit(spec):
        for name, team in spec.teams.items():
            quota = team.queue.quotas.get(pool)
            if quota is not None and getattr(quota, resource) is not None:
                yield f"teams.{name}.queue.quotas.{pool}.{resource}", reason


def _queue(ctx: _Context, path: str, team: str, queue: str | None, priority: str | None) -> Iterator[Problem]:
    if queue is not None and not ctx.queued():
        yield f"{path}.queue", "Kueue is not enabled (addons.kueue.enabled)"
    if queue is not None and team in ctx.spec.teams and queue not in ctx.spec.teams[team].local_queues:
        yield f"{path}.queue", f"team {team!r} has no LocalQueue {queue!r}"
    if priority is not None and priority not in ctx.spec.queueing.priority_classes:
        yield f"{path}.priority_class", f"unknown priority class {priority!r} (queueing.priority_classes)"


def _ray_cluster(ctx: _Context, path: str, team: str, shape: RayClusterShape) -> Iterator[Problem]:
    head_pool = shape.head.pool or ctx.system_pool
    if shape.head.resources.gpus:
        yield f"{path}.head.resources.gpus", "the Ray head must not request GPUs (it schedules, workers compute)"
    else:
        yield from _pod_fits(ctx, f"{path}.head", head_pool, shape.head.resources)
    if shape.head.pool is not None:
        yield from _team_ref(ctx, f"{path}.head", team, shape.head.pool)
    if ctx.queued():
        if shape.autoscaling and not shape.elastic:
            yield f"{path}.autoscaling", (
                "Kueue rejects in-tree autoscaling on a queued Ray cluster unless it is elastic (elastic: true)"
            )
        if len(shape.worker_groups) > MAX_QUEUED_WORKER_GROUPS:
            yield f"{path}.worker_groups", (
                f"Kueue admits at most {MAX_QUEUED_WORKER_GROUPS} worker groups ({len(shape.worker_groups)} given)"
            )
    for group_name, group in shape.worker_groups.items():
        group_path = f"{path}.worker_groups.{group_name}"
        if group_name == "head":
            yield group_path, "a worker group must not be named 'head' (Kueue reserves it for the head PodSet)"
        yield from _replicas(f"{group_path}.replicas", group.replicas)
        yield from _team_ref(ctx, group_path, team, group.pool)
        yield from _pod_fits(ctx, group_path, group.pool, group.resources)


def check_workloads(ctx: _Context) -> Iterator[Problem]:
    spec = ctx.spec
    if (spec.model_services and "kserve" not in ctx.present):
        yield "model_services", "model services need the KServe add-on (addons.kserve.enabled)"
    if (spec.ray_clusters or spec.ray_jobs or spec.ray_services) and "kuberay" not in ctx.present:
        yield "addons.kuberay.enabled", "Ray workloads need the KubeRay add-on"
    if "kserve" in ctx.present and "cert_manager" not in ctx.present:
        yield "addons.cert_manager.enabled", "KServe needs cert-manager for its webhook certificates"
    hosts: dict[tuple[str, str], str] = {}
    team_namespaces = set(ctx.namespaces.values())
    for name, service in spec.model_services.items():
        path = f"model_services.{name}"
        yield from _team_ref(ctx, path, service.team, service.pool)
        yield from _replicas(f"{path}.replicas", service.replicas)
        yield from _pod_fits(ctx, path, service.pool, service.resources)
        if (service.scaling is not None and service.scaling.metric in ("concurrency", "rps")
                and spec.addons.kserve.deployment_mode == "Standard"):
            yield f"{path}.scaling.metric", (
                f"{service.scaling.metric!r} needs addons.kserve.deployment_mode: Knative; Standard mode scales "
                "with an HPA on cpu or memory"
            )
        if (service.model is None) == (service.container is None):
            yield path, "declare exactly one of model or container"
        if service.canary is not None:
            if service.model is not None and service.canary.storage_uri is None:
                yield f"{path}.canary.storage_uri", "a canary of a model service needs the new storage_uri"
            if service.container is not None and service.canary.image is None:
                yield f"{path}.canary.image", "a canary of a container service needs the new image"
        namespace = ctx.namespaces.get(service.team, service.team)
        host = service.route.host or model_host(name, namespace, spec.addons.istio.domain)
        if (host, service.route.path) in hosts:
            owner = hosts[host, service.route.path]
            yield f"{path}.route", f"host {host}{service.route.path} is already routed to {owner!r}"
        hosts.setdefault((host, service.route.path), name)
        for index, namespace in enumerate(service.allowed_namespaces):
            if namespace not in team_namespaces:
                yield f"{path}.allowed_namespaces[{index}]", f"unknown team namespace {namespace!r}"
    for section in ("ray_clusters", "ray_jobs", "ray_services"):
        for name, workload in getattr(spec, section).items():
            path = f"{section}.{name}"
            yield from _team_ref(ctx, path, workload.team)
            yield from _queue(ctx, path, workload.team, workload.queue, workload.priority_class)
            shape = workload if section == "ray_clusters" else workload.cluster
            shape_path = path if section == "ray_clusters" else f"{path}.cluster"
            yield from _ray_cluster(ctx, shape_path, workload.team, shape)
    for name, job in spec.ray_jobs.items():
        if ctx.queued() and not job.shutdown_after_job_finishes:
            yield f"ray_jobs.{name}.shutdown_after_job_finishes", "Kueue requires true for a queued RayJob"
    yield from _unique_per_namespace(ctx)


def _unique_per_namespace(ctx: _Context) -> Iterator[Problem]:
    """Workloads share a namespace with their team; their generated objects must not collide."""
    seen: dict[tuple[str, str], str] = {}
    sections = ("model_services", "ray_clusters", "ray_jobs", "ray_services")
    for section, (name, workload) in chain.from_iterable(
        ((section, item) for item in getattr(ctx.spec, section).items()) for section in sections
    ):
        key = (ctx.namespaces.get(workload.team, workload.team), name)
        if key in seen:
            yield f"{section}.{name}", f"name already used by {seen[key]} in namespace {key[0]!r}"
        seen.setdefault(key, f"{section}.{name}")


def check(spec: PlatformSpec, declared: Declared, present: set[str]) -> list[Problem]:
    """Every cross-field problem of the spec; `present` names the add-ons the cluster will have."""
    ctx = _Context(spec, declared, present)
    rules = (check_cluster, check_pools, check_teams, check_workloads)
    return list(chain.from_iterable(rule(ctx) for rule in rules))
