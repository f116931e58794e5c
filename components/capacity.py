"""Capacity maths: what one node of a pool offers, what the whole pool offers, and Kueue quotas from it.

Pure functions over the spec, used by validation (fit and over-commit checks) and by the queue
builders (quotas derived so that 100% of each pool is admissible and none is over-committed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.catalogue import Allocatable, InstanceType, allocatable, lookup
from components.memo import once_per_spec
from components.quantity import cpu_millis, memory_bytes

if TYPE_CHECKING:  # typing only: the spec package imports this module
    from components.spec.models import NodePool, PlatformSpec, Resources

# Istio injects a sidecar into every pod of a team namespace; its requests count against the node.
SIDECAR_CPU_MILLIS = 100
SIDECAR_MEMORY_BYTES = 128 * 1024**2

RESOURCE_NAMES = ("cpu", "memory", "nvidia.com/gpu")


def node_instance(pool: NodePool) -> InstanceType | None:
    """Per-node capacity: the declared `capacity`, else the smallest of the pool's instance types."""
    if pool.capacity is not None:
        declared = pool.capacity
        return InstanceType(
            vcpu=declared.vcpu,
            memory_gib=declared.memory_gib,
            gpus=declared.gpus,
            gpu_model=declared.gpu_model,
            gpu_memory_gib=declared.gpu_memory_gib,
            gpu_product=declared.gpu_product,
            max_pods=declared.max_pods,
        )
    known = [found for instance_type in pool.instance_types if (found := lookup(instance_type)) is not None]
    if not known or len(known) != len(pool.instance_types):
        return None
    return min(known, key=lambda instance: (instance.gpus, instance.vcpu, instance.memory_gib))


def node_allocatable(pool: NodePool) -> Allocatable | None:
    instance = node_instance(pool)
    return allocatable(instance) if instance else None


def is_gpu_pool(pool: NodePool) -> bool:
    instance = node_instance(pool)
    return bool(instance and instance.gpus)


def pool_capacity(pool: NodePool) -> Allocatable | None:
    """Schedulable capacity of the whole pool at its maximum size."""
    per_node = node_allocatable(pool)
    if per_node is None:
        return None
    return Allocatable(
        cpu_millis=per_node.cpu_millis * pool.max_nodes,
        memory_bytes=per_node.memory_bytes * pool.max_nodes,
        gpus=per_node.gpus * pool.max_nodes,
    )


def pod_request(resources: Resources, sidecar: bool) -> Allocatable:
    """What one pod asks of its node, including the mesh sidecar when the namespace injects one."""
    return Allocatable(
        cpu_millis=cpu_millis(resources.cpu) + (SIDECAR_CPU_MILLIS if sidecar else 0),
        memory_bytes=memory_bytes(resources.memory) + (SIDECAR_MEMORY_BYTES if sidecar else 0),
        gpus=resources.gpus,
    )


def misfits(request: Allocatable, node: Allocatable) -> list[str]:
    """Human reasons why a pod does not fit on one node; empty when it fits."""
    reasons = []
    if request.gpus > node.gpus:
        reasons.append(f"{request.gpus} GPUs per pod do not fit ({node.gpus} GPUs per node)")
    if request.cpu_millis > node.cpu_millis:
        reasons.append(
            f"cpu {request.cpu_millis}m per pod does not fit ({node.cpu_millis}m allocatable per node)"
        )
    if request.memory_bytes > node.memory_bytes:
        reasons.append(
            f"memory {request.memory_bytes // 1024**2}Mi per pod does not fit "
            f"({node.memory_bytes // 1024**2}Mi allocatable per node)"
        )
    return reasons


@dataclass(frozen=True)
class PoolQuota:
    """Nominal quota of one ClusterQueue on one pool's flavor."""

    cpu_millis: int
    memory_bytes: int
    gpus: int


def serving_floor(spec: PlatformSpec, pool_name: str) -> Allocatable:
    """What the model services on a pool always hold: min replicas (and canary replicas) x per-pod requests.

    Model services are not admitted by Kueue, yet they run on the same nodes; leaving their floor out of
    the Kueue quotas keeps Kueue from admitting work that would then sit Pending behind them.
    """
    sidecar = spec.addons.istio.enabled
    cpu = memory = gpus = 0
    for service in spec.model_services.values():
        if service.pool != pool_name:
            continue
        replicas = service.replicas.min * (2 if service.canary is not None else 1)
        pod = pod_request(service.resources, sidecar)
        cpu += pod.cpu_millis * replicas
        memory += pod.memory_bytes * replicas
        gpus += pod.gpus * replicas
    return Allocatable(cpu_millis=cpu, memory_bytes=memory, gpus=gpus)


def queue_capacity(spec: PlatformSpec, pool_name: str) -> Allocatable | None:
    """The part of a pool Kueue may hand out: its capacity minus the serving floor (never negative)."""
    capacity = pool_capacity(spec.node_pools[pool_name])
    if capacity is None:
        return None
    floor = serving_floor(spec, pool_name)
    return Allocatable(
        cpu_millis=max(capacity.cpu_millis - floor.cpu_millis, 0),
        memory_bytes=max(capacity.memory_bytes - floor.memory_bytes, 0),
        gpus=max(capacity.gpus - floor.gpus, 0),
    )


def team_pools(spec: PlatformSpec, team_name: str) -> list[str]:
    """Pools a team may use: its `pools`, else every pool (sorted for stable output)."""
    pools = spec.teams[team_name].pools
    return sorted(pools if pools is not None else spec.node_pools)


def _split(total: int, shares: int, index: int) -> int:
    """Even integer split of `total` into `shares`; the first `total % shares` get one more."""
    return total // shares + (1 if index < total % shares else 0)


@once_per_spec
def derive_quotas(spec: PlatformSpec) -> dict[str, dict[str, PoolQuota]]:
    """Nominal quotas per ClusterQueue and pool, out of each pool's `queue_capacity`.

    `shared` mode: one queue (`shared`) gets every pool's queue capacity whole. `per_team`: explicit team
    quotas are kept, and what is left of each pool is split evenly among the teams that use it without
    one, so the quotas of a pool add up to exactly its queue capacity: all of it admissible, none of it
    over-committed.
    """
    capacities = {name: queue_capacity(spec, name) for name in spec.node_pools}
    if spec.queueing.mode == "shared":
        return {
            "shared": {
                name: PoolQuota(cap.cpu_millis, cap.memory_bytes, cap.gpus)
                for name, cap in sorted(capacities.items())
                if cap is not None
            }
        }
    quotas: dict[str, dict[str, PoolQuota]] = {team: {} for team in sorted(spec.teams)}
    for pool_name, capacity in sorted(capacities.items()):
        if capacity is None:
            continue
        users = [team for team in sorted(spec.teams) if pool_name in team_pools(spec, team)]
        explicit = {team: spec.teams[team].queue.quotas[pool_name] for team in users
                    if pool_name in spec.teams[team].queue.quotas}
        used_cpu = sum(cpu_millis(q.cpu) for q in explicit.values() if q.cpu is not None)
        used_memory = sum(memory_bytes(q.memory) for q in explicit.values() if q.memory is not None)
        used_gpus = sum(q.gpus for q in explicit.values() if q.gpus is not None)
        remaining = [team for team in users if team not in explicit]
        for team in users:
            quota = explicit.get(team)
            if quota is None:
                index, shares = remaining.index(team), len(remaining)
                quotas[team][pool_name] = PoolQuota(
                    cpu_millis=_split(max(capacity.cpu_millis - used_cpu, 0), shares, index),
                    memory_bytes=_split(max(capacity.memory_bytes - used_memory, 0), shares, index),
                    gpus=_split(max(capacity.gpus - used_gpus, 0), shares, index),
                )
            else:
                # An explicit quota states what the team gets; an omitted resource means none of it.
                quotas[team][pool_name] = PoolQuota(
                    cpu_millis=cpu_millis(quota.cpu) if quota.cpu is not None else 0,
                    memory_bytes=memory_bytes(quota.memory) if quota.memory is not None else 0,
                    gpus=quota.gpus or 0,
                )
    return quotas


def over_commit(spec: PlatformSpec) -> list[tuple[str, str, str]]:
    """(pool, resource, reason) for each pool whose explicit quotas exceed its queue capacity."""
    problems = []
    for pool_name, pool in sorted(spec.node_pools.items()):
        capacity = queue_capacity(spec, pool_name)
        if capacity is None:
            continue
        explicit = [team.queue.quotas[pool_name] for team in spec.teams.values()
                    if pool_name in team.queue.quotas]
        totals = {
            "cpu": (sum(cpu_millis(q.cpu) for q in explicit if q.cpu is not None), capacity.cpu_millis, "m"),
            "memory": (sum(memory_bytes(q.memory) for q in explicit if q.memory is not None),
                       capacity.memory_bytes, " bytes"),
            "gpus": (sum(q.gpus for q in explicit if q.gpus is not None), capacity.gpus, ""),
        }
        for resource, (asked, available, unit) in totals.items():
            if asked > available:
                problems.append((pool_name, resource,
                                 f"quotas total {asked}{unit} but pool {pool_name!r} can give Kueue only "
                                 f"{available}{unit} ({pool.max_nodes} nodes at most, less the model "
                                 "services' min replicas)"))
    return problems
