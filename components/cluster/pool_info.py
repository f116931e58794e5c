"""What one node pool offers, as add-ons and workloads see it: one record per spec pool, both modes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from components.capacity import node_allocatable, node_instance
from components.catalogue import Allocatable, InstanceType
from components.pools import PoolTaint, node_labels, node_taints
from components.spec.models import NodePool, PlatformSpec


@dataclass(frozen=True)
class PoolInfo:
    """A pool's node labels and taints (exactly what its nodes carry) and its per-node capacity.

    `instance` is the declared `capacity`, else the smallest of the pool's instance types, so quotas and
    fit checks are conservative for mixed pools. On an existing cluster the labels and taints are what
    the user must put on the nodes; nothing here checks that they did.
    """

    name: str
    labels: Mapping[str, str]
    taints: tuple[PoolTaint, ...]
    instance: InstanceType
    allocatable: Allocatable
    instance_types: tuple[str, ...]
    min_nodes: int
    max_nodes: int
    system: bool
    capacity_type: str

    @property
    def is_gpu(self) -> bool:
        return self.instance.gpus > 0


def pool_info(name: str, pool: NodePool) -> PoolInfo:
    instance = node_instance(pool)
    allocatable = node_allocatable(pool)
    if instance is None or allocatable is None:
        # The spec rules refuse such a pool; reaching this means the spec was not validated.
        raise ValueError(f"node_pools.{name}: no per-node capacity (unknown instance types and no capacity)")
    return PoolInfo(
        name=name,
        labels=MappingProxyType(node_labels(name, pool)),
        taints=tuple(node_taints(pool)),
        instance=instance,
        allocatable=allocatable,
        instance_types=tuple(pool.instance_types),
        min_nodes=pool.min_nodes,
        max_nodes=pool.max_nodes,
        system=pool.system,
        capacity_type=pool.capacity_type,
    )


def pool_infos(spec: PlatformSpec) -> Mapping[str, PoolInfo]:
    """Every pool of the spec by name (read-only), in spec order."""
    return MappingProxyType({name: pool_info(name, pool) for name, pool in spec.node_pools.items()})
