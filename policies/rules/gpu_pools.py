"""EKS GPU node groups and the stack-level GPU checks that need them: AMI, taint, scaling bounds, pods that
fit a node, and the add-ons that make `nvidia.com/gpu` exist at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.k8s import POOL_LABEL, format_number, mapping, mappings, number, text, texts
from policies.model import Param, Params, Resource, Rule, Stack, Violation
from policies.pools import NODE_GROUP, NodeGroupPool, node_group, node_groups
from policies.walker import PodSpec

NVIDIA_AMIS = [
    "AL2023_x86_64_NVIDIA",
    "AL2023_ARM_64_NVIDIA",
    "BOTTLEROCKET_x86_64_NVIDIA",
    "BOTTLEROCKET_ARM_64_NVIDIA",
    "AL2_x86_64_GPU",
]
CHART_KINDS = frozenset({"Release", "Chart"})  # kubernetes:helm.sh/v3:Release, kubernetes:helm.sh/v4:Chart


def gpu_ami(resource: Resource, params: Params) -> Iterator[Violation]:
    group = node_group(resource)
    if not group.is_gpu:
        return
    ami = resource.props.get("amiType")
    if ami in (None, "CUSTOM") and mapping(resource.props.get("launchTemplate")):
        return  # custom AMI from the launch template
    if ami not in texts(params["allowedAmiTypes"]):
        yield Violation(
            "amiType",
            f"GPU instance type {group.instance_type} with AMI type {ami or 'default (no NVIDIA driver)'}: "
            "nodes advertise no nvidia.com/gpu",
        )


def gpu_taint(resource: Resource, params: Params) -> Iterator[Violation]:
    group = node_group(resource)
    if not group.is_gpu:
        return
    if not any(key == params["taintKey"] and effect == "NoSchedule" for key, _, effect in group.taints):
        yield Violation(
            "taints", f"GPU node group has no {params['taintKey']} NO_SCHEDULE taint: any pod can take its nodes"
        )
    if POOL_LABEL not in mapping(resource.props.get("labels")):
        yield Violation("labels", f"GPU node group has no {POOL_LABEL} label for pod selection and Kueue flavors")


def scaling_bounds(resource: Resource, params: Params) -> Iterator[Violation]:
    scaling = mapping(resource.props.get("scalingConfig"))
    low, desired, high = (number(scaling.get(k)) for k in ("minSize", "desiredSize", "maxSize"))
    if low is None or high is None:
        return
    if desired is not None and not low <= desired <= high:
        yield Violation("scalingConfig.desiredSize", f"desiredSize {int(desired)} outside [{int(low)}, {int(high)}]")
    elif low > high:
        yield Violation("scalingConfig.minSize", f"minSize {int(low)} exceeds maxSize {int(high)}")
    if node_group(resource).is_gpu and high > params["maxGpuNodes"]:
        yield Violation(
            "scalingConfig.maxSize",
            f"GPU node group may grow to {int(high)} nodes, above the cost cap {params['maxGpuNodes']}",
        )


# --- stack rules ----------------------------------------------------------------------------------------


def _selects(pod: PodSpec, labels: Mapping[str, str]) -> bool:
    """Whether the pod's node selector and required node affinity (In / Exists) accept these labels."""
    if any(labels.get(str(k)) != v for k, v in mapping(pod.spec.get("nodeSelector")).items()):
        return False
    required = mapping(
        mapping(mapping(pod.spec.get("affinity")).get("nodeAffinity")).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
    )
    terms = [term for _, term in mappings(required.get("nodeSelectorTerms"))]

    def satisfied(expression: Mapping[str, Any]) -> bool:
        key, operator = str(expression.get("key")), expression.get("operator")
        if operator == "In":
            return labels.get(key) in texts(expression.get("values"))
        if operator == "Exists":
            return key in labels
        return True

    return not terms or any(all(satisfied(e) for _, e in mappings(t.get("matchExpressions"))) for t in terms)


def max_per_pod(stack: Stack, params: Params) -> Iterator[Violation]:
    gpu_groups: list[NodeGroupPool] = [g for g in node_groups(stack) if g.is_gpu and g.instance is not None]
    if not gpu_groups:
        return
    for resource in stack.with_pods():
        for pod in resource.pods:
            gpus = pod.gpus
            if not gpus:
                continue
            candidates = [g for g in gpu_groups if _selects(pod, g.labels)]
            if not candidates:
                yield Violation(
                    f"{pod.path}.nodeSelector", "selects no declared GPU node group: the pod stays Pending", resource
                )
                continue
            largest = max(g.gpus_per_node for g in candidates)
            if gpus > largest:
                yield Violation(
                    f"{pod.path}.containers",
                    f"{format_number(gpus)} GPUs per pod, but the largest node it can select has {largest}",
                    resource,
                )


def _chart(resource: Resource) -> tuple[str, Mapping[str, Any]]:
    """(chart name, values) of a Helm release or chart resource; the name without repo or OCI prefix."""
    chart = text(resource.props.get("chart")) or ""
    return chart.rstrip("/").rsplit("/", 1)[-1], mapping(resource.props.get("values"))


def _enabled(values: Mapping[str, Any], path: tuple[str, ...], default: bool = True) -> bool:
    for key in path[:-1]:
        values = mapping(values.get(key))
    value = values.get(path[-1])
    return value if isinstance(value, bool) else default


def stack_addons(stack: Stack, params: Params) -> Iterator[Violation]:
    """gpu-operator 26.7 deploys the device plugin and DCGM exporter with a ServiceMonitor by default."""
    gpu_groups = [g for g in node_groups(stack) if g.is_gpu]
    if not gpu_groups:
        return
    plugin = exporter = monitor = False
    for resource in stack.of_kind(*CHART_KINDS, "DaemonSet", "ServiceMonitor", "PodMonitor"):
        name = resource.display_name
        if resource.kind in CHART_KINDS:
            chart, values = _chart(resource)
            if chart == "gpu-operator":
                plugin |= _enabled(values, ("devicePlugin", "enabled"))
                exporter |= _enabled(values, ("dcgmExporter", "enabled"))
                monitor |= _enabled(values, ("dcgmExporter", "enabled")) and _enabled(
                    values, ("dcgmExporter", "serviceMonitor", "enabled")
                )
            plugin |= chart == "nvidia-device-plugin"
            if chart == "dcgm-exporter":
                exporter = True
                monitor |= _enabled(values, ("serviceMonitor", "enabled"))
        elif resource.kind == "DaemonSet":
            plugin |= "device-plugin" in name
            exporter |= "dcgm" in name
        elif resource.kind in ("ServiceMonitor", "PodMonitor"):
            monitor |= "dcgm" in name
    missing = [
        what
        for what, present in (
            ("the NVIDIA device plugin or GPU operator", plugin),
            ("a DCGM exporter", exporter),
            ("a ServiceMonitor or PodMonitor for DCGM", monitor),
        )
        if not present
    ]
    if missing:
        yield Violation(
            "instanceTypes", f"GPU node group but the stack declares no {', '.join(missing)}", gpu_groups[0].resource
        )


_TAINT = {"taintKey": Param("nvidia.com/gpu", "string", "taint key GPU node groups must carry")}

RULES = [
    Rule(
        "eks-gpu-ami",
        "GPU node groups use an NVIDIA AMI type (or a custom AMI from a launch template).",
        "high",
        "mandatory",
        "resource",
        gpu_ami,
        frozenset({NODE_GROUP}),
        params={"allowedAmiTypes": Param(NVIDIA_AMIS, "strings", "AMI types with NVIDIA drivers")},
    ),
    Rule(
        "eks-gpu-taint",
        "GPU node groups carry the GPU NO_SCHEDULE taint and the pool label.",
        "high",
        "mandatory",
        "resource",
        gpu_taint,
        frozenset({NODE_GROUP}),
        params=_TAINT,
    ),
    Rule(
        "eks-gpu-scaling-bounds",
        "Node groups keep minSize <= desiredSize <= maxSize; GPU groups stay under the node cost cap.",
        "medium",
        "advisory",
        "resource",
        scaling_bounds,
        frozenset({NODE_GROUP}),
        params={"maxGpuNodes": Param(16, "number", "largest maxSize of a GPU node group")},
    ),
    Rule(
        "gpu-max-per-pod",
        "Each GPU pod selects a declared GPU node group whose nodes hold its GPU count.",
        "high",
        "mandatory",
        "stack",
        max_per_pod,
    ),
    Rule(
        "gpu-stack-addons",
        "A stack with GPU node groups declares the device plugin (or GPU operator), a DCGM exporter and its monitor.",
        "medium",
        "advisory",
        "stack",
        stack_addons,
    ),
]
