"""KubeRay rules, including the Kueue webhook's admission rules for Ray workloads.

Kueue rejects a labelled RayJob or RayCluster at admission (`pkg/controller/jobs/rayjob/rayjob_webhook.go`,
`raycluster/common.go` `ValidateCreate`); checking the same conditions here turns a failure midway through
`pulumi up` into a preview error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

from policies.k8s import (
    ELASTIC_ANNOTATION,
    QUEUE_LABEL,
    is_mapping,
    mapping,
    mappings,
    matching_tolerations,
    number,
    parse_image,
    text,
)
from policies.model import NONE, Found, Param, Params, Resource, Rule, Violation, violation
from policies.rules.gpu import TAINT_PARAMS
from policies.walker import PodSpec

RAY_KINDS = frozenset({"RayCluster", "RayJob", "RayService"})
ELASTIC_GATE = "kueue.x-k8s.io/elastic-job"  # Kueue's ElasticJobSchedulingGate


# Where each Ray kind keeps its RayClusterSpec: the spec itself (None) or a field of it.
CLUSTER_FIELDS = {"RayCluster": None, "RayJob": "rayClusterSpec", "RayService": "rayClusterConfig"}


def ray_clusters(resource: Resource) -> list[tuple[str, Mapping[str, Any]]]:
    """(path, RayClusterSpec) of the cluster a Ray resource defines; empty for a RayJob using clusterSelector."""
    key = CLUSTER_FIELDS.get(resource.kind, "")
    if key is None:
        return [("spec", resource.spec)]
    cluster = resource.spec.get(key) if key else None
    return [(f"spec.{key}", cluster)] if is_mapping(cluster) else []


def _cluster_path(pod: PodSpec) -> str:
    return pod.path.removesuffix(".headGroupSpec.template.spec")


def head_no_gpu(pod: PodSpec, resource: Resource, params: Params) -> Found:
    if pod.role != "ray-head":
        return NONE
    if pod.gpus:
        if params["allowSingleNode"]:
            return NONE
        message = "Ray head requests GPUs; run GPU work on worker groups"
        return [Violation(f"{c.path}.resources.limits", message) for c in pod.containers if c.gpus]
    if not matching_tolerations(pod.spec.get("tolerations"), params["taintKey"], params["taintEffect"]):
        return NONE
    if mapping(mapping(pod.cluster.get("headGroupSpec")).get("rayStartParams")).get("num-gpus") == "0":
        return NONE
    return violation(
        f"{_cluster_path(pod)}.headGroupSpec.rayStartParams",
        'Ray head may land on a GPU node without requesting one: set rayStartParams num-gpus: "0" (kuberay#2098)',
    )


def worker_bounds(resource: Resource, params: Params) -> Iterator[Violation]:
    ceiling = params["maxReplicas"]
    for path, cluster in ray_clusters(resource):
        seen: set[str] = set()
        for index, group in mappings(cluster.get("workerGroupSpecs")):
            at = f"{path}.workerGroupSpecs[{index}]"
            name = text(group.get("groupName"))
            if not name:
                yield Violation(f"{at}.groupName", "worker group has no groupName")
            elif name in seen:
                yield Violation(f"{at}.groupName", f"duplicate worker group {name!r}")
            seen.add(name or "")
            low = number(group.get("minReplicas")) or 0.0
            high, replicas = number(group.get("maxReplicas")), number(group.get("replicas"))
            if high is None:
                yield Violation(f"{at}.maxReplicas", "maxReplicas not set (defaults to 2147483647)")
                continue
            if low > high:
                yield Violation(f"{at}.minReplicas", f"minReplicas {int(low)} exceeds maxReplicas {int(high)}")
            if replicas is not None and not low <= replicas <= high:
                yield Violation(f"{at}.replicas", f"replicas {int(replicas)} outside [{int(low)}, {int(high)}]")
            if high > ceiling:
                yield Violation(f"{at}.maxReplicas", f"maxReplicas {int(high)} exceeds the ceiling {ceiling}")


@lru_cache(maxsize=4096)
def _ray_version(image: str) -> str:
    """The Ray version an image's tag starts with (`2.40.0-py311-cu121` -> `2.40.0`), else ''; cached."""
    tag = parse_image(image).tag
    return tag.split("-")[0] if tag[:1].isdigit() else ""


def version_consistency(resource: Resource, params: Params) -> Iterator[Violation]:
    for path, cluster in ray_clusters(resource):
        wanted = text(cluster.get("rayVersion"))
        if not wanted:
            yield Violation(f"{path}.rayVersion", "rayVersion not set")
        prefix = f"{path}."
        for pod in resource.pods:
            if not pod.path.startswith(prefix) or not pod.app_containers:
                continue
            ray_container = pod.app_containers[0]  # KubeRay's RayContainerIndex
            version = _ray_version(ray_container.image or "")
            if version and wanted and version != wanted:
                yield Violation(f"{ray_container.path}.image", f"image is Ray {version} but rayVersion is {wanted}")


def rayjob_lifecycle(resource: Resource, params: Params) -> Iterator[Violation]:
    spec = resource.spec
    if not mapping(spec.get("clusterSelector")):
        if spec.get("shutdownAfterJobFinishes") is not True:
            yield Violation("spec.shutdownAfterJobFinishes", "the cluster and its GPUs outlive the job")
        if spec.get("ttlSecondsAfterFinished") is None:
            yield Violation("spec.ttlSecondsAfterFinished", "no ttlSecondsAfterFinished")
    if spec.get("activeDeadlineSeconds") is None:
        yield Violation("spec.activeDeadlineSeconds", "no activeDeadlineSeconds to cap GPU-hours")


def kueue_compat(resource: Resource, params: Params) -> Iterator[Violation]:
    if not resource.labels.get(QUEUE_LABEL):
        return
    spec = resource.spec
    if resource.kind == "RayJob":
        has_selector, has_cluster = (
            bool(mapping(spec.get("clusterSelector"))),
            is_mapping(spec.get("rayClusterSpec")),
        )
        if has_selector and has_cluster:
            yield Violation("spec.clusterSelector", "a Kueue-managed job should not use an existing cluster")
            return
        if has_selector:
            return  # not managed by Kueue
        if not has_cluster:
            yield Violation("spec.rayClusterSpec", "rayClusterSpec is required for Kueue-managed jobs")
            return
        if spec.get("shutdownAfterJobFinishes") is not True:
            yield Violation(
                "spec.shutdownAfterJobFinishes", "a Kueue-managed job should delete the cluster after finishing"
            )
    elastic = resource.annotations.get(ELASTIC_ANNOTATION) == "true"
    for path, cluster in ray_clusters(resource):
        if cluster.get("enableInTreeAutoscaling") is True:
            if not elastic:
                yield Violation(
                    f"{path}.enableInTreeAutoscaling",
                    f'Kueue rejects autoscaling unless the job is elastic ({ELASTIC_ANNOTATION}: "true")',
                )
            else:
                for pod in resource.pods:
                    gates = [g.get("name") for _, g in mappings(pod.spec.get("schedulingGates"))]
                    if pod.path.startswith(f"{path}.") and ELASTIC_GATE not in gates:
                        yield Violation(
                            f"{pod.path}.schedulingGates", f"elastic Ray pods need the {ELASTIC_GATE} scheduling gate"
                        )
        groups = mappings(cluster.get("workerGroupSpecs"))
        if len(groups) + 1 > params["maxPodSets"]:
            yield Violation(
                f"{path}.workerGroupSpecs",
                f"{len(groups)} worker groups plus the head exceed Kueue's {params['maxPodSets']} pod sets",
            )
        for index, group in groups:
            if group.get("groupName") == "head":
                yield Violation(f"{path}.workerGroupSpecs[{index}].groupName", '"head" is reserved for the head group')


RULES = [
    Rule(
        "ray-head-no-gpu",
        'Ray heads request no GPU; a head that can land on a GPU node sets num-gpus "0".',
        "medium",
        "mandatory",
        "pod",
        head_no_gpu,
        RAY_KINDS,
        params={**TAINT_PARAMS, "allowSingleNode": Param(False, "boolean", "allow GPU heads (single-node clusters)")},
    ),
    Rule(
        "ray-worker-bounds",
        "Worker groups are named uniquely, set maxReplicas under the ceiling, and min <= replicas <= max.",
        "high",
        "mandatory",
        "resource",
        worker_bounds,
        RAY_KINDS,
        params={"maxReplicas": Param(64, "number", "largest maxReplicas per worker group")},
    ),
    Rule(
        "ray-version-consistency",
        "spec.rayVersion is set and matches the Ray image of head and workers.",
        "medium",
        "advisory",
        "resource",
        version_consistency,
        RAY_KINDS,
    ),
    Rule(
        "rayjob-lifecycle",
        "RayJobs shut their cluster down, expire (ttlSecondsAfterFinished) and have a deadline.",
        "high",
        "advisory",
        "resource",
        rayjob_lifecycle,
        frozenset({"RayJob"}),
    ),
    Rule(
        "ray-kueue-compat",
        "Ray workloads with a queue label pass Kueue's webhook: own cluster, shutdown, no autoscaling unless "
        "elastic, <= 17 worker groups, none named head.",
        "critical",
        "mandatory",
        "resource",
        kueue_compat,
        RAY_KINDS,
        params={"maxPodSets": Param(18, "integer", "Kueue's jobframework.MaxPodSets (head + worker groups)")},
    ),
]
