"""Node labels, taints and tolerations of a pool: one definition used by the EKS node groups, the Kueue
ResourceFlavors and the workloads' selectors, so that they always match exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from components.capacity import node_instance
from components.catalogue import lookup
from components.names import (
    ACCELERATOR_LABEL,
    DEVICE_PLUGIN_CONFIG_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_TAINT_KEY,
    POOL_LABEL,
)

if TYPE_CHECKING:  # typing only: the spec package imports this module
    from components.spec.models import NodePool


@dataclass(frozen=True)
class PoolTaint:
    key: str
    value: str
    effect: str

    def toleration(self) -> dict[str, str]:
        """The pod toleration for this taint (`Exists` when the taint has no value)."""
        if self.value:
            return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}
        return {"key": self.key, "operator": "Exists", "effect": self.effect}


def node_labels(name: str, pool: NodePool) -> dict[str, str]:
    """Labels every node of the pool carries: pool name, accelerator and GPU product, plus the user's."""
    labels = {POOL_LABEL: name}
    instance = node_instance(pool)
    if instance is not None and instance.gpus:
        labels[ACCELERATOR_LABEL] = "nvidia"
        # Only when every instance type has the same GPU: a mixed A10G/L4 pool cannot promise one product.
        known = [found for instance_type in pool.instance_types if (found := lookup(instance_type)) is not None]
        products = {it.gpu_product for it in known} or {instance.gpu_product}
        if len(products) == 1 and instance.gpu_product:
            labels[GPU_PRODUCT_LABEL] = instance.gpu_product
        if pool.mig_strategy != "none" or pool.time_slicing_replicas:
            # Selects this pool's entry in the device plugin's config map (components/addons/gpu.py).
            labels[DEVICE_PLUGIN_CONFIG_LABEL] = name
    return {**labels, **pool.labels}


def node_taints(pool: NodePool) -> list[PoolTaint]:
    """GPU pools are tainted `nvidia.com/gpu=true:NoSchedule` so only pods that ask for GPUs land there."""
    taints = [PoolTaint(taint.key, taint.value, taint.effect) for taint in pool.taints]
    instance = node_instance(pool)
    if instance is not None and instance.gpus and not any(t.key == GPU_TAINT_KEY for t in taints):
        taints.insert(0, PoolTaint(GPU_TAINT_KEY, "true", "NoSchedule"))
    return taints


def node_selector(name: str) -> dict[str, str]:
    """What a pod selects to land on the pool: the pool label alone (stable across instance types)."""
    return {POOL_LABEL: name}


def tolerations(pool: NodePool) -> list[dict[str, str]]:
    return [taint.toleration() for taint in node_taints(pool)]
