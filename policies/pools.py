"""Node pools as the stack declares them: EKS node groups, or the capacity the program annotates on each
Kueue ResourceFlavor when the cluster already exists. Used by the stack rules that compare quotas,
flavors and pod sizes with what the nodes can really hold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from components.catalogue import InstanceType, allocatable, lookup
from policies.k8s import (
    GPU_RESOURCE,
    POOL_ANNOTATION,
    POOL_CAPACITY_ANNOTATION,
    POOL_LABEL,
    mapping,
    mappings,
    number,
    quantity,
    taint_effect,
    text,
    texts,
)
from policies.model import Resource, Stack

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
_GPU_FAMILY = re.compile(r"^(p\d|g\d)")  # p4d, p5, g5, g6e, ... (for instance types missing from the catalogue)


@dataclass(frozen=True)
class NodeGroupPool:
    """One EKS node group: its node labels (explicit plus those EKS adds), taints and capacity."""

    resource: Resource
    labels: Mapping[str, str]
    taints: tuple[tuple[str, str, str], ...]  # (key, value, Kubernetes effect)
    instance_type: str
    instance: InstanceType | None
    max_nodes: int

    @property
    def pool(self) -> str:
        return self.labels.get(POOL_LABEL, "")

    @property
    def is_gpu(self) -> bool:
        if self.instance is not None:
            return self.instance.is_gpu
        return bool(_GPU_FAMILY.match(self.instance_type))

    @property
    def gpus_per_node(self) -> int:
        return self.instance.gpus if self.instance is not None else 0

    def capacity(self) -> dict[str, Decimal] | None:
        """Schedulable cpu (cores), memory (bytes) and GPUs of the whole group at maxSize."""
        if self.instance is None:
            return None
        node = allocatable(self.instance)
        return {
            "cpu": Decimal(node.cpu_millis * self.max_nodes) / 1000,
            "memory": Decimal(node.memory_bytes * self.max_nodes),
            GPU_RESOURCE: Decimal(node.gpus * self.max_nodes),
        }


def node_group(resource: Resource) -> NodeGroupPool:
    props = resource.props
    instance_types = texts(props.get("instanceTypes"))
    instance_type = instance_types[0] if instance_types else ""
    labels = {str(k): v for k, v in mapping(props.get("labels")).items() if isinstance(v, str)}
    implicit = {"eks.amazonaws.com/nodegroup": text(props.get("nodeGroupName")) or resource.name}
    if len(instance_types) == 1:
        implicit["node.kubernetes.io/instance-type"] = instance_type
    taints = tuple(
        (text(t.get("key")) or "", text(t.get("value")) or "", taint_effect(t.get("effect")))
        for _, t in mappings(props.get("taints"))
    )
    max_nodes = number(mapping(props.get("scalingConfig")).get("maxSize"))
    return NodeGroupPool(
        resource, {**implicit, **labels}, taints, instance_type, lookup(instance_type), int(max_nodes or 0)
    )


def node_groups(stack: Stack) -> list[NodeGroupPool]:
    return [node_group(r) for r in stack.of_kind(NODE_GROUP)]


def flavor_pool(flavor: Resource) -> str:
    """The pool a ResourceFlavor stands for: its `gpuplat.io/pool` annotation, else its node label."""
    return (
        text(flavor.annotations.get(POOL_ANNOTATION))
        or text(mapping(flavor.spec.get("nodeLabels")).get(POOL_LABEL))
        or ""
    )


def annotated_capacity(flavor: Resource) -> dict[str, Decimal] | None:
    """The `gpuplat.io/pool-capacity` annotation: `{"cpu": "94", "memory": "760Gi", "nvidia.com/gpu": "16"}`."""
    raw = text(flavor.annotations.get(POOL_CAPACITY_ANNOTATION))
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    parsed = {str(k): quantity(v) for k, v in mapping(data).items()}
    return {k: v for k, v in parsed.items() if v is not None} or None


def pool_capacity(flavor: Resource, groups: Sequence[NodeGroupPool]) -> dict[str, Decimal] | None:
    """Capacity behind a flavor: the node groups of its pool when the stack declares them, else the annotation."""
    pool = flavor_pool(flavor)
    matching = [g for g in groups if pool and g.pool == pool]
    capacities = [g.capacity() for g in matching]
    if matching and all(c is not None for c in capacities):
        total: dict[str, Decimal] = {}
        for capacity in capacities:
            for name, value in (capacity or {}).items():
                total[name] = total.get(name, Decimal(0)) + value
        return total
    return annotated_capacity(flavor)
