"""Pieces every workload builder shares: metadata, placement on a pool, resources and pod security.

The defaults here are what makes a minimal declaration compliant with a strict policy pack: requests
equal to limits (Guaranteed QoS, GPU limit = request), a non-root, no-privilege-escalation, drop-ALL,
RuntimeDefault-seccomp security context, explicit placement on the declared pool, and the recommended
`app.kubernetes.io/*` labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components import pools
from components.capacity import SIDECAR_CPU_MILLIS, SIDECAR_MEMORY_BYTES
from components.names import GPU_RESOURCE, SKIP_AWAIT_ANNOTATION, recommended_labels
from components.quantity import cpu_millis, format_cpu, format_memory, memory_bytes
from components.spec.models import PlatformSpec, Resources

Manifest = dict[str, Any]

# Istio's per-pod sidecar resource annotations. Pinning requests = limits to the figures the capacity maths
# already reserves per pod (components/capacity.py) keeps the ResourceQuota maths exact and the pod in the
# Guaranteed QoS class; without them the injector's defaults (limits 2 CPU / 1Gi) would count against quota.
SIDECAR_RESOURCE_ANNOTATIONS = {
    "sidecar.istio.io/proxyCPU": format_cpu(SIDECAR_CPU_MILLIS),
    "sidecar.istio.io/proxyCPULimit": format_cpu(SIDECAR_CPU_MILLIS),
    "sidecar.istio.io/proxyMemory": format_memory(SIDECAR_MEMORY_BYTES),
    "sidecar.istio.io/proxyMemoryLimit": format_memory(SIDECAR_MEMORY_BYTES),
}
# The team's workload identity (components/builders/teams.py creates it; Ray pods run as it).
TEAM_SERVICE_ACCOUNT = "workloads"
# Pods that must not get a sidecar (Ray: see components/builders/ray.py) carry this label.
NO_SIDECAR_LABEL = {"sidecar.istio.io/inject": "false"}


@dataclass(frozen=True)
class Footprint:
    """Requests (= limits) of one pod or a sum of pods: cpu in millicores, memory in bytes, GPUs."""

    cpu_millis: int = 0
    memory_bytes: int = 0
    gpus: int = 0

    def __add__(self, other: Footprint) -> Footprint:
        return Footprint(self.cpu_millis + other.cpu_millis, self.memory_bytes + other.memory_bytes,
                         self.gpus + other.gpus)

    def times(self, count: int) -> Footprint:
        return Footprint(self.cpu_millis * count, self.memory_bytes * count, self.gpus * count)

    def at_least(self, other: Footprint) -> Footprint:
        """Per-resource maximum: how an init container and the app containers of one pod combine."""
        return Footprint(max(self.cpu_millis, other.cpu_millis), max(self.memory_bytes, other.memory_bytes),
                         max(self.gpus, other.gpus))

    @classmethod
    def of(cls, resources: Resources) -> Footprint:
        return cls(cpu_millis(resources.cpu), memory_bytes(resources.memory), resources.gpus)


SIDECAR = Footprint(SIDECAR_CPU_MILLIS, SIDECAR_MEMORY_BYTES, 0)


def metadata(
    name: str,
    component: str,
    *,
    namespace: str | None = None,
    app: str | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """Object metadata with the recommended labels: `app.kubernetes.io/name` is `app` (default: the object's
    name), `app.kubernetes.io/instance` the object's name."""
    meta: Manifest = {"name": name, "labels": {**recommended_labels(app or name, component, name), **(labels or {})}}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def await_annotations(skip_await: bool) -> dict[str, str]:
    """`pulumi.com/skipAwait: "true"` when the stack asks not to wait on readiness."""
    return {SKIP_AWAIT_ANNOTATION: "true"} if skip_await else {}


def quantity_map(footprint: Footprint) -> dict[str, Any]:
    """`{cpu, memory[, nvidia.com/gpu]}` in canonical Kubernetes form; the GPU only when asked for."""
    values: dict[str, Any] = {"cpu": format_cpu(footprint.cpu_millis), "memory": format_memory(footprint.memory_bytes)}
    if footprint.gpus:
        values[GPU_RESOURCE] = footprint.gpus
    return values


def container_resources(resources: Resources) -> Manifest:
    """Requests and limits, equal (Guaranteed QoS); the GPU limit equals the GPU request."""
    values = quantity_map(Footprint.of(resources))
    return {"requests": dict(values), "limits": dict(values)}


def container_security_context(*, read_only_root: bool, run_as_user: int | None = None) -> Manifest:
    """The restricted Pod Security Standard for one container."""
    context: Manifest = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if run_as_user is not None:
        context["runAsUser"] = run_as_user
    return context


def pod_security_context(*, run_as_user: int | None = None, group: int | None = None) -> Manifest:
    context: Manifest = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if run_as_user is not None:
        context["runAsUser"] = run_as_user
    if group is not None:
        context["runAsGroup"] = group
        context["fsGroup"] = group
    return context


def placement(spec: PlatformSpec, pool_name: str) -> Manifest:
    """`nodeSelector` and `tolerations` that land a pod on exactly this pool (same source as the flavors)."""
    placed: Manifest = {"nodeSelector": pools.node_selector(pool_name)}
    tolerations = pools.tolerations(spec.node_pools[pool_name])
    if tolerations:
        placed["tolerations"] = tolerations
    return placed


def system_pool(spec: PlatformSpec) -> str:
    return next(name for name, pool in spec.node_pools.items() if pool.system)


def empty_dir(name: str, size_limit: str, *, memory: bool = False) -> Manifest:
    source: Manifest = {"sizeLimit": size_limit}
    if memory:
        source["medium"] = "Memory"
    return {"name": name, "emptyDir": source}
