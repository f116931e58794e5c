"""Section H: GPU rules on every pod template. No policy anchor has them.

The API server rejects a bad GPU spec on a core Pod at once, but a RayCluster, RayJob, RayService or
InferenceService with the same error is accepted and its operator then fails to create pods,
asynchronously and silently to `pulumi up`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from policies.k8s import (
    GPU_RESOURCE,
    PRIORITY_LABEL,
    QUEUE_LABEL,
    accelerators,
    env_value,
    gpu_count,
    is_accelerator,
    limits_of,
    mapping,
    mappings,
    matching_tolerations,
    number,
    quantity,
    requests_of,
    text,
    texts,
)
from policies.model import Param, Params, Resource, Rule, Violation
from policies.walker import POD_KINDS, PodSpec

TAINT_PARAMS = {
    "taintKey": Param(GPU_RESOURCE, "string", "taint key of the GPU node pools"),
    "taintEffect": Param("NoSchedule", "string", "taint effect of the GPU node pools"),
}
POOL_KEYS = [
    "gpuplat.io/pool",
    "node.kubernetes.io/instance-type",
    "karpenter.k8s.aws/instance-gpu-name",
    "nvidia.com/gpu.product",
    "eks.amazonaws.com/nodegroup",
]
NO_DEVICES = (None, "", "void", "none")


def uses_gpu(pod: PodSpec) -> bool:
    return any(gpu_count(container.spec) > 0 for container in pod.containers)


def limit_equals_request(resource: Resource, params: Params) -> Iterator[Violation]:
    """k8s "Schedule GPUs": limits only; a request must equal the limit; whole devices only."""
    for pod in resource.pods:
        for container in pod.containers:
            requests, limits = requests_of(container.spec), limits_of(container.spec)
            names = sorted({n for n in (*requests, *limits) if isinstance(n, str) and is_accelerator(n)})
            for name in names:
                limit, request = limits.get(name), requests.get(name)
                limit_path = f"{container.path}.resources.limits"
                if limit is None:
                    yield Violation(limit_path, f"{name} requested without a limit")
                    continue
                amount = quantity(limit)
                if amount is None or amount < 0 or amount != amount.to_integral_value():
                    yield Violation(limit_path, f"{name} limit {limit!r} is not a whole number of devices")
                elif request is not None and quantity(request) != amount:
                    yield Violation(
                        f"{container.path}.resources.requests",
                        f"{name} request {request!r} differs from the limit {limit!r}",
                    )


def single_device_type(resource: Resource, params: Params) -> Iterator[Violation]:
    allowed = set(texts(params["allowedMigProfiles"]))
    for pod in resource.pods:
        for container in pod.containers:
            names = set(accelerators(container.spec))
            migs = sorted(n for n in names if n.startswith("nvidia.com/mig-"))
            path = f"{container.path}.resources.limits"
            if migs and GPU_RESOURCE in names:
                yield Violation(path, f"mixes {GPU_RESOURCE} with MIG slices {', '.join(migs)}")
            if len(migs) > 1:
                yield Violation(path, f"mixes MIG profiles {', '.join(migs)}")
            for mig in migs:
                if allowed and mig.removeprefix("nvidia.com/") not in allowed and mig not in allowed:
                    yield Violation(
                        path, f"MIG profile {mig} is not offered by the pools ({', '.join(sorted(allowed))})"
                    )


def toleration(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        if uses_gpu(pod) and not matching_tolerations(
            pod.spec.get("tolerations"), params["taintKey"], params["taintEffect"]
        ):
            yield Violation(
                f"{pod.path}.tolerations",
                f"requests GPUs but does not tolerate the {params['taintKey']}:{params['taintEffect']} taint",
            )


def _selects(pod: PodSpec, keys: set[str]) -> bool:
    if keys & set(mapping(pod.spec.get("nodeSelector"))):
        return True
    affinity = mapping(
        mapping(mapping(pod.spec.get("affinity")).get("nodeAffinity")).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
    )
    terms = [term for _, term in mappings(affinity.get("nodeSelectorTerms"))]
    return bool(terms) and all(
        any(expr.get("key") in keys for _, expr in mappings(term.get("matchExpressions"))) for term in terms
    )


def node_selection(resource: Resource, params: Params) -> Iterator[Violation]:
    if resource.labels.get(QUEUE_LABEL):
        return  # Kueue injects the flavor's node labels at admission
    keys = set(texts(params["poolLabelKeys"]))
    for pod in resource.pods:
        if uses_gpu(pod) and not _selects(pod, keys):
            yield Violation(
                f"{pod.path}.nodeSelector", f"GPU pod does not pin a pool by any of {', '.join(sorted(keys))}"
            )


def no_stray_tolerations(resource: Resource, params: Params) -> Iterator[Violation]:
    """kuberay#2098: a pod on a GPU node without a GPU request sees the host's GPUs."""
    for pod in resource.pods:
        if uses_gpu(pod):
            continue
        if pod.app_containers and all(
            env_value(c.spec, "NVIDIA_VISIBLE_DEVICES") == "void" for c in pod.app_containers
        ):
            continue
        for index in matching_tolerations(pod.spec.get("tolerations"), params["taintKey"], params["taintEffect"]):
            yield Violation(f"{pod.path}.tolerations[{index}]", "tolerates the GPU taint without requesting a GPU")


def shm(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        volumes = {v.get("name"): (index, v) for index, v in mappings(pod.spec.get("volumes"))}
        for container in pod.app_containers:
            if gpu_count(container.spec) < Decimal(str(params["minGpus"])):
                continue
            mounts = [m for _, m in mappings(container.spec.get("volumeMounts")) if m.get("mountPath") == "/dev/shm"]
            found = volumes.get(mounts[0].get("name")) if mounts else None
            if found is None:
                yield Violation(
                    f"{container.path}.volumeMounts",
                    "multi-GPU container without an emptyDir mounted at /dev/shm (the runtime gives 64 MiB)",
                )
                continue
            index, volume = found
            empty_dir = mapping(volume.get("emptyDir"))
            if empty_dir.get("medium") != "Memory" or empty_dir.get("sizeLimit") is None:
                yield Violation(
                    f"{pod.path}.volumes[{index}].emptyDir", "/dev/shm volume needs medium: Memory and a sizeLimit"
                )


def memory_guaranteed(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for container in pod.containers:
            if not gpu_count(container.spec):
                continue
            requests, limits = requests_of(container.spec), limits_of(container.spec)
            request, limit = quantity(requests.get("memory")), quantity(limits.get("memory"))
            if request is None or limit is None or request != limit:
                yield Violation(
                    f"{container.path}.resources.requests",
                    "GPU container memory request does not equal its limit (OOM kill or eviction of a costly job)",
                )
            if requests.get("cpu") is None:
                yield Violation(f"{container.path}.resources.requests", "GPU container has no cpu request")


def priority_class(resource: Resource, params: Params) -> Iterator[Violation]:
    allowed = texts(params["allowedPriorityClasses"])
    for pod in resource.pods:
        if not uses_gpu(pod) or resource.labels.get(PRIORITY_LABEL):
            continue
        name = pod.spec.get("priorityClassName")
        if not text(name):
            yield Violation(
                f"{pod.path}.priorityClassName", "GPU pod has no priorityClassName (or Kueue priority-class label)"
            )
        elif allowed and name not in allowed:
            yield Violation(
                f"{pod.path}.priorityClassName", f"priority class {name!r} is not one of {', '.join(allowed)}"
            )


def no_privileged_device_access(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for index, volume in mappings(pod.spec.get("volumes")):
            host_path = text(mapping(volume.get("hostPath")).get("path")) or ""
            if host_path.startswith("/dev/nvidia"):
                yield Violation(f"{pod.path}.volumes[{index}].hostPath", f"mounts GPU device {host_path} directly")
        for container in pod.containers:
            if gpu_count(container.spec):
                if mapping(container.spec.get("securityContext")).get("privileged") is True:
                    yield Violation(
                        f"{container.path}.securityContext.privileged",
                        "GPU container is privileged; GPUs come through resource limits",
                    )
                continue
            for index, variable in mappings(container.spec.get("env")):
                if variable.get("name") == "NVIDIA_VISIBLE_DEVICES" and variable.get("value") not in NO_DEVICES:
                    yield Violation(
                        f"{container.path}.env[{index}].value",
                        f"NVIDIA_VISIBLE_DEVICES={variable.get('value')} exposes GPUs without a GPU limit",
                    )


def _probe_delay(probe: Mapping[str, Any]) -> float:
    return number(probe.get("initialDelaySeconds")) or 0.0


def serving_startup_probe(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        if pod.role not in ("pod", "kserve-predictor", "kserve-transformer", "kserve-explainer"):
            continue
        for container in pod.app_containers:
            liveness = container.spec.get("livenessProbe")
            if (
                not gpu_count(container.spec)
                or not isinstance(liveness, Mapping)
                or container.spec.get("startupProbe") is not None
            ):
                continue
            delay = _probe_delay(liveness)
            if delay < params["minInitialDelaySeconds"]:
                yield Violation(
                    f"{container.path}.livenessProbe",
                    "liveness probe without a startupProbe kills the server while it loads weights "
                    f"(initialDelaySeconds {delay:g} < {params['minInitialDelaySeconds']})",
                )


RULES = [
    Rule(
        "gpu-limit-equals-request",
        "Accelerators are whole numbers in limits; a request, if any, equals the limit.",
        "critical",
        "mandatory",
        POD_KINDS,
        limit_equals_request,
    ),
    Rule(
        "gpu-single-device-type",
        "A container does not mix full GPUs with MIG slices, nor two MIG profiles; MIG profiles come from the "
        "allowlist.",
        "high",
        "mandatory",
        POD_KINDS,
        single_device_type,
        params={
            "allowedMigProfiles": Param([], "strings", "MIG profiles the pools offer, e.g. 'mig-1g.10gb' (empty: any)")
        },
    ),
    Rule(
        "gpu-toleration",
        "GPU pods tolerate the GPU pool taint (the ExtendedResourceToleration plugin is not assumed).",
        "high",
        "mandatory",
        POD_KINDS,
        toleration,
        params=TAINT_PARAMS,
    ),
    Rule(
        "gpu-node-selection",
        "GPU pods pin a pool by node selector or required node affinity (Kueue-managed ones get it from the flavor).",
        "medium",
        "advisory",
        POD_KINDS,
        node_selection,
        params={"poolLabelKeys": Param(POOL_KEYS, "strings", "node label keys that identify a pool")},
    ),
    Rule(
        "gpu-no-stray-tolerations",
        "Pods without a GPU request do not tolerate the GPU taint (unless NVIDIA_VISIBLE_DEVICES=void).",
        "medium",
        "advisory",
        POD_KINDS,
        no_stray_tolerations,
        params=TAINT_PARAMS,
    ),
    Rule(
        "gpu-shm",
        "Multi-GPU containers mount a sized, memory-backed emptyDir at /dev/shm (NCCL, data loaders).",
        "low",
        "advisory",
        POD_KINDS,
        shm,
        params={"minGpus": Param(2, "number", "GPUs per container from which /dev/shm is required")},
    ),
    Rule(
        "gpu-memory-guaranteed",
        "GPU containers have memory request equal to limit and a cpu request.",
        "medium",
        "advisory",
        POD_KINDS,
        memory_guaranteed,
    ),
    Rule(
        "gpu-priority-class",
        "GPU pods set a priority class from the allowlist (or a Kueue priority-class label).",
        "medium",
        "advisory",
        POD_KINDS,
        priority_class,
        params={"allowedPriorityClasses": Param([], "strings", "allowed priorityClassName values (empty: any)")},
    ),
    Rule(
        "gpu-no-privileged-device-access",
        "GPUs come only through resource limits: no privileged GPU containers, no /dev/nvidia* host paths, "
        "no NVIDIA_VISIBLE_DEVICES without a limit.",
        "critical",
        "mandatory",
        POD_KINDS,
        no_privileged_device_access,
    ),
    Rule(
        "gpu-serving-startup-probe",
        "GPU model servers with a liveness probe also have a startupProbe (weights take minutes to load).",
        "low",
        "advisory",
        frozenset({"Deployment", "StatefulSet", "InferenceService"}),
        serving_startup_probe,
        params={
            "minInitialDelaySeconds": Param(
                300, "number", "liveness initialDelaySeconds accepted instead of a startupProbe"
            )
        },
    ),
]
