"""Generated platform specs of any size, for the benchmarks: N model services and N/5 Ray clusters.

The base is the existing-cluster spec `stacks/local.yaml` (no cloud: the program registers only
Kubernetes objects), with every add-on enabled. What scales with N:

- teams: one per ten model services (at least two), so the workloads spread over namespaces the way a
  real platform's do instead of piling into one namespace;
- model services: round-robin over the teams; every fourth one on the GPU pool (one GPU), every
  seventh with a canary, every third with autoscaling on a metric;
- Ray clusters: N/5, round-robin over the teams, head on the system pool, one CPU worker group;
- node pools: `system`, `cpu-serve` and `gpu-serve` with declared capacity, each sized (`max_nodes`) so
  that every pod of every workload fits at its maximum replica count at once, not only one pod per
  node (which is all the validator checks). Kueue quotas are derived from these pools, so they grow
  with N too.

Everything here is a pure function of N; `write_spec` puts the YAML where the program can read it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from components.capacity import pod_request
from components.catalogue import Allocatable, InstanceType, allocatable
from components.spec.models import Resources

ROOT = Path(__file__).resolve().parent.parent
BASE_SPEC = ROOT / "stacks" / "local.yaml"

SERVICES_PER_TEAM = 10
RAY_CLUSTERS_PER_SERVICE = 1 / 5

# Declared per-node capacity of the generated pools (an existing cluster: no instance catalogue).
POOL_NODES: dict[str, dict[str, Any]] = {
    "system": {"vcpu": 16, "memory_gib": 64},
    "cpu-serve": {"vcpu": 32, "memory_gib": 128},
    "gpu-serve": {
        "vcpu": 48,
        "memory_gib": 192,
        "gpus": 4,
        "gpu_model": "L4",
        "gpu_memory_gib": 24,
        "gpu_product": "NVIDIA-L4",
    },
}
# Nodes the system pool keeps for the add-on controllers (Prometheus, Istio, KServe, Kueue, ...).
SYSTEM_NODES_FOR_ADDONS = 3

CPU_SERVICE = {"cpu": "500m", "memory": "1Gi", "gpus": 0}
GPU_SERVICE = {"cpu": "4", "memory": "16Gi", "gpus": 1}
RAY_HEAD = {"cpu": "500m", "memory": "1Gi"}
RAY_WORKER = {"cpu": "1", "memory": "2Gi"}


def team_name(index: int) -> str:
    return f"team-{index:03d}"


def service_name(index: int) -> str:
    return f"svc-{index:04d}"


def ray_cluster_name(index: int) -> str:
    return f"ray-{index:04d}"


def team_count(services: int) -> int:
    """One team per `SERVICES_PER_TEAM` model services, at least two (so namespaces are always spread)."""
    return max(2, math.ceil(services / SERVICES_PER_TEAM))


def ray_cluster_count(services: int) -> int:
    return int(services * RAY_CLUSTERS_PER_SERVICE)


def _model_service(index: int, team: str) -> dict[str, Any]:
    gpu = index % 4 == 3
    service: dict[str, Any] = {
        "team": team,
        "pool": "gpu-serve" if gpu else "cpu-serve",
        "model": (
            {"format": "huggingface", "storage_uri": f"s3://bench-models/llm-{index:04d}"}
            if gpu
            else {"format": "sklearn", "storage_uri": f"gs://bench-models/sklearn-{index:04d}/model"}
        ),
        "resources": dict(GPU_SERVICE if gpu else CPU_SERVICE),
        "replicas": {"min": 1, "max": 2},
    }
    if index % 3 == 0:
        service["scaling"] = {"metric": "memory" if gpu else "cpu", "target": 80}  # Standard mode: an HPA
    if index % 7 == 6:
        uri = service["model"]["storage_uri"]
        service["canary"] = {"traffic_percent": 10, "storage_uri": f"{uri}-rev2"}
    return service


def _ray_cluster(index: int, team: str) -> dict[str, Any]:
    return {
        "team": team,
        "head": {"resources": dict(RAY_HEAD)},
        "worker_groups": {
            "cpu": {"pool": "cpu-serve", "replicas": {"min": 0, "max": 2}, "resources": dict(RAY_WORKER)},
        },
    }


def _pods(spec: dict[str, Any]) -> dict[str, list[tuple[dict[str, Any], int]]]:
    """Every pod shape per pool with its maximum count: (resources, pods)."""
    pods: dict[str, list[tuple[dict[str, Any], int]]] = defaultdict(list)
    for service in spec["model_services"].values():
        copies = 2 if "canary" in service else 1  # a canary runs beside the stable revision
        pods[service["pool"]].append((service["resources"], service["replicas"]["max"] * copies))
    system = next(name for name, pool in spec["node_pools"].items() if pool.get("system"))
    for cluster in spec["ray_clusters"].values():
        pods[cluster["head"].get("pool", system)].append((cluster["head"]["resources"], 1))
        for group in cluster["worker_groups"].values():
            pods[group["pool"]].append((group["resources"], group["replicas"]["max"]))
    return pods


def nodes_needed(node: Allocatable, max_pods: int, pods: list[tuple[dict[str, Any], int]], sidecar: bool) -> int:
    """Nodes for all these pods at once by total cpu, memory, GPUs and pod count (bin-packing slack: 10%)."""
    cpu = memory = gpus = count = 0
    for resources, replicas in pods:
        request = pod_request(Resources(**resources), sidecar)
        cpu += request.cpu_millis * replicas
        memory += request.memory_bytes * replicas
        gpus += request.gpus * replicas
        count += replicas
    needs = [cpu / node.cpu_millis, memory / node.memory_bytes, count / max_pods]
    if gpus:
        needs.append(gpus / node.gpus)
    return max(1, math.ceil(max(needs) * 1.1))


def scaled_spec(services: int, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The local spec grown to `services` model services and `services / 5` Ray clusters (a new dict)."""
    if services < 0:
        raise ValueError(f"services must not be negative, got {services}")
    if base is None:
        base = yaml.safe_load(BASE_SPEC.read_text(encoding="utf-8"))
    teams = [team_name(index) for index in range(team_count(services))]
    spec: dict[str, Any] = {
        "cluster": dict(base["cluster"]),
        "node_pools": {
            name: {
                "system": name == "system",
                "min_nodes": 1 if name == "system" else 0,
                "max_nodes": 1,
                "capacity": dict(capacity),
            }
            for name, capacity in POOL_NODES.items()
        },
        "addons": {**base.get("addons", {}), "gpu": {"enabled": True}},
        "queueing": base.get("queueing", {}),
        "teams": {name: {} for name in teams},
        "model_services": {
            service_name(index): _model_service(index, teams[index % len(teams)]) for index in range(services)
        },
        "ray_clusters": {
            ray_cluster_name(index): _ray_cluster(index, teams[index % len(teams)])
            for index in range(ray_cluster_count(services))
        },
    }
    sidecar = spec["addons"].get("istio", {}).get("enabled", True)
    pods = _pods(spec)
    for name, pool in spec["node_pools"].items():
        instance = InstanceType(**pool["capacity"])
        needed = nodes_needed(allocatable(instance), instance.max_pods, pods.get(name, []), sidecar)
        pool["max_nodes"] = needed + (SYSTEM_NODES_FOR_ADDONS if pool["system"] else 0)
    return spec


def write_spec(directory: Path, services: int, name: str | None = None) -> Path:
    """Write `scaled_spec(services)` as YAML into `directory`; the file's path."""
    path = directory / (name or f"bench-{services}.yaml")
    path.write_text(yaml.safe_dump(scaled_spec(services), sort_keys=False), encoding="utf-8")
    return path
