"""Section H: GPU rules on every pod template. No policy anchor has them.

The API server rejects a bad GPU spec on a core Pod at once, but a RayCluster, RayJob, RayService or
InferenceService with the same error is accepted and its operator then fails to create pods,
asynchronously and silently to `pulumi up`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policies.k8s import (
    GPU_RESOURCE,
    PRIORITY_LABEL,
    QUEUE_LABEL,
    env_value,
    is_mapping,
    mapping,
    mappings,
    matching_tolerations,
    number,
    quantity,
    text,
    texts,
)
from policies.model import NONE, Found, Param, Params, Resource, Rule, Violation, violation
from policies.walker import POD_KINDS, Container, PodSpec

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
DEVICES_VARIABLE = "NVIDIA_VISIBLE_DEVICES"


def limit_equals_request(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    """k8s "Schedule GPUs": limits only; a request must equal the limit; whole devices only."""
    if not c.accelerators:
        return NONE
    found = []
    for name in sorted(c.accelerators):
        limit, request = c.limits.get(name), c.requests.get(name)
        if limit is None:
            found.append(Violation(f"{c.path}.resources.limits", f"{name} requested without a limit"))
            continue
        amount = quantity(limit)
        if amount is None or amount < 0 or amount != amount.to_integral_value():
            found.append(
                Violation(f"{c.path}.resources.limits", f"{name} limit {limit!r} is not a whole number of devices")
            )
        elif request is not None and quantity(request) != amount:
            message = f"{name} request {request!r} differs from the limit {limit!r}"
            found.append(Violation(f"{c.path}.resources.requests", message))
    return found


def single_device_type(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    migs = sorted(name for name in c.accelerators if name.startswith("nvidia.com/mig-"))
    if not migs:
        return NONE
    allowed = params["allowedMigProfiles"]
    path = f"{c.path}.resources.limits"
    found = []
    if migs and GPU_RESOURCE in c.accelerators:
        found.append(Violation(path, f"mixes {GPU_RESOURCE} with MIG slices {', '.join(migs)}"))
    if len(migs) > 1:
        found.append(Violation(path, f"mixes MIG profiles {', '.join(migs)}"))
    for mig in migs:
        if allowed and mig.removeprefix("nvidia.com/") not in allowed and mig not in allowed:
            found.append(
                Violation(path, f"MIG profile {mig} is not offered by the pools ({', '.join(sorted(allowed))})")
            )
    return found


def toleration(pod: PodSpec, resource: Resource, params: Params) -> Found:
    if matching_tolerations(pod.spec.get("tolerations"), params["taintKey"], params["taintEffect"]):
        return NONE
    taint = f"{params['taintKey']}:{params['taintEffect']}"
    return violation(f"{pod.path}.tolerations", f"requests GPUs but does not tolerate the {taint} taint")


def _selects(pod: PodSpec, keys: tuple[str, ...]) -> bool:
    selector = mapping(pod.spec.get("nodeSelector"))
    if any(key in selector for key in keys):
        return True
    affinity = mapping(mapping(pod.spec.get("affinity")).get("nodeAffinity"))
    required = mapping(affinity.get("requiredDuringSchedulingIgnoredDuringExecution"))
    terms = [term for _, term in mappings(required.get("nodeSelectorTerms"))]
    return bool(terms) and all(any(e.get("key") in keys for _, e in mappings(t.get("matchExpressions"))) for t in terms)


def node_selection(pod: PodSpec, resource: Resource, params: Params) -> Found:
    keys = params["poolLabelKeys"]
    if resource.labels.get(QUEUE_LABEL) or _selects(pod, keys):
        return NONE  # Kueue injects the flavor's node labels at admission
    return violation(f"{pod.path}.nodeSelector", f"GPU pod does not pin a pool by any of {', '.join(sorted(keys))}")


def no_stray_tolerations(pod: PodSpec, resource: Resource, params: Params) -> Found:
    """kuberay#2098: a pod on a GPU node without a GPU request sees the host's GPUs."""
    if not pod.spec.get("tolerations"):
        return NONE
    apps = pod.app_containers
    if apps and all(env_value(c.spec, "NVIDIA_VISIBLE_DEVICES") == "void" for c in apps):
        return NONE
    return [
        Violation(f"{pod.path}.tolerations[{index}]", "tolerates the GPU taint without requesting a GPU")
        for index in matching_tolerations(pod.spec.get("tolerations"), params["taintKey"], params["taintEffect"])
    ]


def shm(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if not c.is_app or c.gpus < params["minGpus"]:
        return NONE
    mounts = [m for _, m in mappings(c.spec.get("volumeMounts")) if m.get("mountPath") == "/dev/shm"]
    volumes = {volume.get("name"): (index, volume) for index, volume in mappings(pod.spec.get("volumes"))}
    found = volumes.get(mounts[0].get("name")) if mounts else None
    if found is None:
        message = "multi-GPU container without an emptyDir mounted at /dev/shm (the runtime gives 64 MiB)"
        return violation(f"{c.path}.volumeMounts", message)
    index, volume = found
    empty_dir = mapping(volume.get("emptyDir"))
    if empty_dir.get("medium") == "Memory" and empty_dir.get("sizeLimit") is not None:
        return NONE
    return violation(f"{pod.path}.volumes[{index}].emptyDir", "/dev/shm volume needs medium: Memory and a sizeLimit")


def memory_guaranteed(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    found = []
    request, limit = quantity(c.requests.get("memory")), quantity(c.limits.get("memory"))
    if request is None or limit is None or request != limit:
        message = "GPU container memory request does not equal its limit (OOM kill or eviction of a costly job)"
        found.append(Violation(f"{c.path}.resources.requests", message))
    if c.requests.get("cpu") is None:
        found.append(Violation(f"{c.path}.resources.requests", "GPU container has no cpu request"))
    return found


def priority_class(pod: PodSpec, resource: Resource, params: Params) -> Found:
    if resource.labels.get(PRIORITY_LABEL):
        return NONE
    name = pod.spec.get("priorityClassName")
    if not text(name):
        return violation(
            f"{pod.path}.priorityClassName", "GPU pod has no priorityClassName (or Kueue priority-class label)"
        )
    allowed = texts(params["allowedPriorityClasses"])
    if allowed and name not in allowed:
        return violation(f"{pod.path}.priorityClassName", f"priority class {name!r} is not one of {', '.join(allowed)}")
    return NONE


def no_privileged_device_access(pod: PodSpec, resource: Resource, params: Params) -> Found:
    found: list[Violation] = []
    volumes = pod.spec.get("volumes")
    if volumes:
        for index, volume in mappings(volumes):
            if "hostPath" not in volume:
                continue
            host_path = text(mapping(volume.get("hostPath")).get("path")) or ""
            if host_path.startswith("/dev/nvidia"):
                message = f"mounts GPU device {host_path} directly"
                found.append(Violation(f"{pod.path}.volumes[{index}].hostPath", message))
    for c in pod.containers:
        if c.gpus:
            if c.security.get("privileged") is True:
                message = "GPU container is privileged; GPUs come through resource limits"
                found.append(Violation(f"{c.path}.securityContext.privileged", message))
            continue
        env = c.spec.get("env")
        if not env:
            continue
        for index, variable in mappings(env):
            if variable.get("name") == DEVICES_VARIABLE and variable.get("value") not in NO_DEVICES:
                message = f"NVIDIA_VISIBLE_DEVICES={variable.get('value')} exposes GPUs without a GPU limit"
                found.append(Violation(f"{c.path}.env[{index}].value", message))
    return found


def _probe_delay(probe: Mapping[str, Any]) -> float:
    return number(probe.get("initialDelaySeconds")) or 0.0


def serving_startup_probe(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    liveness = c.spec.get("livenessProbe")
    if pod.role not in SERVING_ROLES or not c.is_app or not is_mapping(liveness):
        return NONE
    delay = _probe_delay(liveness)
    if c.spec.get("startupProbe") is not None or delay >= params["minInitialDelaySeconds"]:
        return NONE
    message = (
        "liveness probe without a startupProbe kills the server while it loads weights "
        f"(initialDelaySeconds {delay:g} < {params['minInitialDelaySeconds']})"
    )
    return violation(f"{c.path}.livenessProbe", message)


SERVING_ROLES = ("pod", "kserve-predictor", "kserve-transformer", "kserve-explainer")

RULES = [
    Rule(
        "gpu-limit-equals-request",
        "Accelerators are whole numbers in limits; a request, if any, equals the limit.",
        "critical",
        "mandatory",
        "container",
        limit_equals_request,
        POD_KINDS,
    ),
    Rule(
        "gpu-single-device-type",
        "A container does not mix full GPUs with MIG slices, nor two MIG profiles; MIG profiles come from the "
        "allowlist.",
        "high",
        "mandatory",
        "container",
        single_device_type,
        POD_KINDS,
        gpu=True,
        params={
            "allowedMigProfiles": Param([], "strings", "MIG profiles the pools offer, e.g. 'mig-1g.10gb' (empty: any)")
        },
    ),
    Rule(
        "gpu-toleration",
        "GPU pods tolerate the GPU pool taint (the ExtendedResourceToleration plugin is not assumed).",
        "high",
        "mandatory",
        "pod",
        toleration,
        POD_KINDS,
        gpu=True,
        params=TAINT_PARAMS,
    ),
    Rule(
        "gpu-node-selection",
        "GPU pods pin a pool by node selector or required node affinity (Kueue-managed ones get it from the flavor).",
        "medium",
        "advisory",
        "pod",
        node_selection,
        POD_KINDS,
        gpu=True,
        params={"poolLabelKeys": Param(POOL_KEYS, "strings", "node label keys that identify a pool")},
    ),
    Rule(
        "gpu-no-stray-tolerations",
        "Pods without a GPU request do not tolerate the GPU taint (unless NVIDIA_VISIBLE_DEVICES=void).",
        "medium",
        "advisory",
        "pod",
        no_stray_tolerations,
        POD_KINDS,
        gpu=False,
        params=TAINT_PARAMS,
    ),
    Rule(
        "gpu-shm",
        "Multi-GPU containers mount a sized, memory-backed emptyDir at /dev/shm (NCCL, data loaders).",
        "low",
        "advisory",
        "container",
        shm,
        POD_KINDS,
        gpu=True,
        params={"minGpus": Param(2, "number", "GPUs per container from which /dev/shm is required")},
    ),
    Rule(
        "gpu-memory-guaranteed",
        "GPU containers have memory request equal to limit and a cpu request.",
        "medium",
        "advisory",
        "container",
        memory_guaranteed,
        POD_KINDS,
        gpu=True,
    ),
    Rule(
        "gpu-priority-class",
        "GPU pods set a priority class from the allowlist (or a Kueue priority-class label).",
        "medium",
        "advisory",
        "pod",
        priority_class,
        POD_KINDS,
        gpu=True,
        params={"allowedPriorityClasses": Param([], "strings", "allowed priorityClassName values (empty: any)")},
    ),
    Rule(
        "gpu-no-privileged-device-access",
        "GPUs come only through resource limits: no privileged GPU containers, no /dev/nvidia* host paths, "
        "no NVIDIA_VISIBLE_DEVICES without a limit.",
        "critical",
        "mandatory",
        "pod",
        no_privileged_device_access,
        POD_KINDS,
    ),
    Rule(
        "gpu-serving-startup-probe",
        "GPU model servers with a liveness probe also have a startupProbe (weights take minutes to load).",
        "low",
        "advisory",
        "container",
        serving_startup_probe,
        frozenset({"Deployment", "StatefulSet", "InferenceService"}),
        gpu=True,
        params={
            "minInitialDelaySeconds": Param(
                300, "number", "liveness initialDelaySeconds accepted instead of a startupProbe"
            )
        },
    ),
]
