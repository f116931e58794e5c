"""One walker that finds every pod spec and container wherever a kind nests them.

Covers the built-in controllers, KubeRay (head and worker groups of RayCluster, a RayJob's embedded
cluster and submitter template, a RayService's cluster config) and KServe components, whose pod fields
(`tolerations`, `nodeSelector`, `securityContext`, ...) sit directly on the component next to `model` and
`containers`. No other policy tool checks these nested templates before deploy: an operator that rejects
them does so asynchronously, after `pulumi up` has already reported success.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from policies.k8s import EMPTY, ZERO, accelerators, is_mapping, mapping, mappings, text

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# KServe predictor shorthands: each is a container spec with a model server chosen by KServe.
KSERVE_FRAMEWORKS = (
    "model", "huggingface", "lightgbm", "onnx", "paddle", "pmml",
    "pytorch", "sklearn", "tensorflow", "triton", "xgboost",
)  # fmt: skip


class Container:
    """A container, its dotted path, and the facts most rules need, computed once.

    `section` is the list it sits in (or the KServe framework key); `is_app` is false for init and
    ephemeral containers; `accelerators` maps each accelerator resource to its amount (the limit, else
    the request); `gpus` is their sum.
    """

    __slots__ = (
        "path", "spec", "section", "is_app", "requests", "limits", "security", "accelerators", "gpus", "image",
    )  # fmt: skip

    def __init__(self, path: str, spec: Mapping[str, Any], section: str) -> None:
        self.path, self.spec, self.section = path, spec, section
        self.is_app = section != "initContainers" and section != "ephemeralContainers"
        resources = mapping(spec.get("resources"))
        self.requests = requests = mapping(resources.get("requests"))
        self.limits = limits = mapping(resources.get("limits"))
        self.security = mapping(spec.get("securityContext"))
        self.accelerators = found = accelerators(requests, limits)
        self.gpus = sum(found.values(), ZERO) if found else ZERO
        self.image = text(spec.get("image"))

    def __repr__(self) -> str:
        return f"Container({self.path!r})"


class PodSpec:
    """A pod spec (or a KServe component, which inlines the pod fields) and the containers in it.

    `role` tells the rules what the pod is for (`pod`, `ray-head`, `ray-worker`, `ray-submitter`,
    `kserve-predictor`, ...). `cluster` is the enclosing RayClusterSpec for Ray roles, `metadata` the
    template's metadata (labels, annotations) found at `metadata_path`; both empty when not applicable.
    `gpus` is what the scheduler reserves: the app containers' sum, or the largest init container.
    """

    __slots__ = (
        "path", "spec", "role", "containers", "app_containers", "metadata", "metadata_path", "cluster", "security",
        "gpus",
    )  # fmt: skip

    def __init__(
        self,
        path: str,
        spec: Mapping[str, Any],
        role: str,
        containers: tuple[Container, ...],
        metadata: Mapping[str, Any],
        metadata_path: str,
        cluster: Mapping[str, Any],
    ) -> None:
        self.path, self.spec, self.role, self.containers = path, spec, role, containers
        self.metadata, self.metadata_path, self.cluster = metadata, metadata_path, cluster
        self.security = mapping(spec.get("securityContext"))
        # One pass over the containers; init and ephemeral containers are rare, so most pods share one tuple
        # for both (an object fewer per pod for the garbage collector to scan).
        apps, gpus = True, False
        for c in containers:
            apps = apps and c.is_app
            gpus = gpus or bool(c.gpus)
        self.app_containers = containers if apps else tuple([c for c in containers if c.is_app])
        self.gpus = ZERO
        if gpus:
            app = sum([c.gpus for c in self.app_containers], ZERO)
            init = [c.gpus for c in containers if c.section == "initContainers"]
            self.gpus = max(app, *init) if init else app

    def __repr__(self) -> str:
        return f"PodSpec({self.path!r}, {self.role!r})"


def _containers(spec: Mapping[str, Any], path: str, frameworks: tuple[str, ...] = ()) -> tuple[Container, ...]:
    found = []
    for key in frameworks:
        container = spec.get(key)
        if is_mapping(container):
            found.append(Container(f"{path}.{key}", container, key))
    for section in CONTAINER_LISTS:
        items = spec.get(section)
        if items:
            for index, item in mappings(items):
                found.append(Container(f"{path}.{section}[{index}]", item, section))
    return tuple(found)


def _pod(
    spec: Any, path: str, role: str, metadata: Any = EMPTY, metadata_path: str = "metadata", cluster: Any = EMPTY
) -> list[PodSpec]:
    if not is_mapping(spec):
        return []
    return [PodSpec(path, spec, role, _containers(spec, path), mapping(metadata), metadata_path, mapping(cluster))]


def _template(template: Any, path: str, role: str = "pod", cluster: Any = EMPTY) -> list[PodSpec]:
    """A PodTemplateSpec: `{metadata, spec}`."""
    template = mapping(template)
    return _pod(template.get("spec"), f"{path}.spec", role, template.get("metadata"), f"{path}.metadata", cluster)


def _ray_cluster(cluster: Any, path: str) -> list[PodSpec]:
    cluster = mapping(cluster)
    found = _template(
        mapping(cluster.get("headGroupSpec")).get("template"), f"{path}.headGroupSpec.template", "ray-head", cluster
    )
    for index, group in mappings(cluster.get("workerGroupSpecs")):
        found += _template(group.get("template"), f"{path}.workerGroupSpecs[{index}].template", "ray-worker", cluster)
    return found


def _kserve_component(component: Any, path: str, role: str) -> list[PodSpec]:
    if not is_mapping(component):
        return []
    metadata = {"labels": component.get("labels"), "annotations": component.get("annotations")}
    frameworks = KSERVE_FRAMEWORKS if role == "kserve-predictor" else ()
    found = [PodSpec(path, component, role, _containers(component, path, frameworks), metadata, path, EMPTY)]
    found += _pod(component.get("workerSpec"), f"{path}.workerSpec", "kserve-worker")
    return found


def _inference_service(spec: Mapping[str, Any]) -> list[PodSpec]:
    found = []
    for key in ("predictor", "transformer", "explainer"):
        found += _kserve_component(spec.get(key), f"spec.{key}", f"kserve-{key}")
    for index, canary in mappings(spec.get("canary")):  # KServe v0.20 `spec.canary[]`
        found += _kserve_component(canary.get("predictor"), f"spec.canary[{index}].predictor", "kserve-predictor")
    return found


def _job_set(spec: Mapping[str, Any]) -> list[PodSpec]:
    found = []
    for index, job in mappings(spec.get("replicatedJobs")):
        job_spec = mapping(mapping(job.get("template")).get("spec"))
        found += _template(job_spec.get("template"), f"spec.replicatedJobs[{index}].template.spec.template")
    return found


_WALKERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], list[PodSpec]]] = {
    "Pod": lambda props, spec: _pod(spec, "spec", "pod", props.get("metadata")),
    "PodTemplate": lambda props, spec: _template(props.get("template"), "template"),
    "Deployment": lambda props, spec: _template(spec.get("template"), "spec.template"),
    "StatefulSet": lambda props, spec: _template(spec.get("template"), "spec.template"),
    "DaemonSet": lambda props, spec: _template(spec.get("template"), "spec.template"),
    "ReplicaSet": lambda props, spec: _template(spec.get("template"), "spec.template"),
    "ReplicationController": lambda props, spec: _template(spec.get("template"), "spec.template"),
    "Job": lambda props, spec: _template(spec.get("template"), "spec.template"),
    "CronJob": lambda props, spec: _template(
        mapping(mapping(spec.get("jobTemplate")).get("spec")).get("template"), "spec.jobTemplate.spec.template"
    ),
    "JobSet": lambda props, spec: _job_set(spec),
    "RayCluster": lambda props, spec: _ray_cluster(spec, "spec"),
    "RayJob": lambda props, spec: (
        _ray_cluster(spec.get("rayClusterSpec"), "spec.rayClusterSpec")
        + _template(spec.get("submitterPodTemplate"), "spec.submitterPodTemplate", "ray-submitter")
    ),
    "RayService": lambda props, spec: _ray_cluster(spec.get("rayClusterConfig"), "spec.rayClusterConfig"),
    "InferenceService": lambda props, spec: _inference_service(spec),
}

POD_KINDS = frozenset(_WALKERS)


def pod_specs(kind: str, props: Mapping[str, Any]) -> tuple[PodSpec, ...]:
    """Every pod spec in a resource of `kind`, in document order; empty for kinds without pods."""
    walker = _WALKERS.get(kind)
    if walker is None or not is_mapping(props):
        return ()
    return tuple(walker(props, mapping(props.get("spec"))))
