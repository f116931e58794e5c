"""Generated benchmark specs: valid, the promised counts, namespaces spread, pools big enough for every pod."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from benchmarks.specs import (
    POOL_NODES,
    SYSTEM_NODES_FOR_ADDONS,
    _pods,
    nodes_needed,
    ray_cluster_count,
    scaled_spec,
    team_count,
    write_spec,
)
from components.capacity import node_allocatable
from components.spec import validate_file
from components.spec.models import PlatformSpec


@pytest.mark.parametrize("services", [0, 1, 10, 100, 1000])
def test_generated_spec_validates(tmp_path: Path, services: int) -> None:
    path = write_spec(tmp_path, services)
    assert validate_file(str(path)) == []


@pytest.mark.parametrize(
    ("services", "teams", "ray_clusters"),
    [(0, 2, 0), (1, 2, 0), (10, 2, 2), (11, 2, 2), (100, 10, 20), (1000, 100, 200)],
)
def test_counts_scale_with_n(services: int, teams: int, ray_clusters: int) -> None:
    spec = scaled_spec(services)
    assert (team_count(services), ray_cluster_count(services)) == (teams, ray_clusters)
    assert len(spec["model_services"]) == services
    assert len(spec["ray_clusters"]) == ray_clusters
    assert len(spec["teams"]) == teams


def test_workloads_spread_evenly_over_team_namespaces() -> None:
    spec = scaled_spec(1000)
    services = Counter(service["team"] for service in spec["model_services"].values())
    clusters = Counter(cluster["team"] for cluster in spec["ray_clusters"].values())
    assert set(services.values()) == {10}
    assert set(clusters.values()) == {2}


def test_spec_is_the_existing_cluster_base_with_every_addon_on() -> None:
    spec = PlatformSpec.model_validate(scaled_spec(10))
    assert spec.cluster.mode == "existing"
    assert all(getattr(spec.addons, name).enabled for name in ("gpu", "kuberay", "kueue", "kserve", "istio"))
    assert {name for name, pool in spec.node_pools.items() if pool.system} == {"system"}


def test_mix_of_gpu_canary_and_scaled_services() -> None:
    services = scaled_spec(28)["model_services"]
    assert sum(service["pool"] == "gpu-serve" for service in services.values()) == 7
    assert sum("canary" in service for service in services.values()) == 4
    assert sum("scaling" in service for service in services.values()) == 10
    assert all(service["resources"]["gpus"] == 1 for service in services.values() if service["pool"] == "gpu-serve")


@pytest.mark.parametrize("services", [10, 100, 1000])
def test_every_pool_holds_all_its_pods_at_max_replicas(services: int) -> None:
    raw = scaled_spec(services)
    spec = PlatformSpec.model_validate(raw)
    for name, pods in _pods(raw).items():
        pool = spec.node_pools[name]
        node = node_allocatable(pool)
        assert node is not None
        needed = nodes_needed(node, POOL_NODES[name].get("max_pods", 110), pods, sidecar=True)
        reserve = SYSTEM_NODES_FOR_ADDONS if pool.system else 0
        assert pool.max_nodes == needed + reserve
        gpus = sum(resources.get("gpus", 0) * count for resources, count in pods)
        assert node.gpus * pool.max_nodes >= gpus


def test_pool_sizes_grow_with_n() -> None:
    small, large = scaled_spec(100)["node_pools"], scaled_spec(1000)["node_pools"]
    assert all(large[name]["max_nodes"] > small[name]["max_nodes"] for name in ("cpu-serve", "gpu-serve"))


def test_negative_n_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        scaled_spec(-1)
