"""Capacity maths: per-node allocatable after the documented reserve, and quotas that use 100% of each pool."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from components.capacity import derive_quotas, pool_capacity
from components.catalogue import INSTANCE_TYPES, allocatable, kube_reserved_cpu_millis
from components.quantity import cpu_millis, format_memory, memory_bytes
from components.spec.models import PlatformSpec


def test_kube_reserved_cpu_follows_the_eks_formula() -> None:
    assert [kube_reserved_cpu_millis(n) for n in (1, 2, 4, 8, 192)] == [60, 70, 80, 90, 550]


def test_allocatable_of_g6_12xlarge() -> None:
    node = allocatable(INSTANCE_TYPES["g6.12xlarge"])
    assert node.gpus == 4
    assert node.cpu_millis == 48_000 - (80 + 44 * 25 // 10) - 400
    assert node.memory_bytes == 192 * 2**30 - (255 + 11 * 110) * 2**20 - 100 * 2**20 - 2**30


def test_catalogue_covers_the_gpu_families_users_run() -> None:
    families = {name.split(".")[0] for name, it in INSTANCE_TYPES.items() if it.gpus}
    assert {"g5", "g6", "g6e", "p4d", "p4de", "p5", "p5e", "p5en", "g5g"} <= families
    assert INSTANCE_TYPES["g5g.xlarge"].arch == "arm64"


def test_quantities_accept_every_form_the_policy_sdk_hands_over() -> None:
    assert [cpu_millis(v) for v in ("1", 1, 1.0, "500m", "0.25")] == [1000, 1000, 1000, 500, 250]
    assert memory_bytes("2Gi") == 2 * 2**30 and format_memory(2 * 2**30) == "2Gi"


def _spec(teams: int, max_nodes: int, mode: str = "per_team") -> PlatformSpec:
    return PlatformSpec.model_validate({
        "cluster": {"mode": "existing"},
        "node_pools": {"system": {"system": True, "capacity": {"vcpu": 4, "memory_gib": 16}, "max_nodes": 1},
                       "gpu": {"instance_types": ["p5.48xlarge"], "max_nodes": max_nodes}},
        "queueing": {"mode": mode},
        "teams": {f"team-{i}": {} for i in range(teams)},
    })


@given(teams=st.integers(1, 7), max_nodes=st.integers(1, 9))
def test_derived_quotas_add_up_to_exactly_the_pool_capacity(teams: int, max_nodes: int) -> None:
    spec = _spec(teams, max_nodes)
    capacity = pool_capacity(spec.node_pools["gpu"])
    quotas = [q["gpu"] for q in derive_quotas(spec).values()]
    assert sum(q.gpus for q in quotas) == capacity.gpus == 8 * max_nodes
    assert sum(q.cpu_millis for q in quotas) == capacity.cpu_millis
    assert sum(q.memory_bytes for q in quotas) == capacity.memory_bytes
    assert max(q.gpus for q in quotas) - min(q.gpus for q in quotas) <= 1


def test_shared_mode_gives_one_queue_every_pool_whole() -> None:
    quotas = derive_quotas(_spec(3, 2, mode="shared"))
    assert list(quotas) == ["shared"] and quotas["shared"]["gpu"].gpus == 16


def test_sharing_pools_carry_the_device_plugin_config_label() -> None:
    from components.pools import node_labels
    from components.spec.models import NodePool

    sliced = NodePool.model_validate({"instance_types": ["g6.xlarge"], "max_nodes": 1, "time_slicing_replicas": 4})
    plain = NodePool.model_validate({"instance_types": ["g6.xlarge"], "max_nodes": 1})
    assert node_labels("l4-shared", sliced)["nvidia.com/device-plugin.config"] == "l4-shared"
    assert "nvidia.com/device-plugin.config" not in node_labels("l4", plain)
