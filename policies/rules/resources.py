"""Section A: container requests and limits, ratios and per-environment ceilings.

Kueue admits workloads on their requests and the scheduler packs GPU nodes by them, so a container
without requests either bypasses quota or lands where it starves its neighbours.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from functools import lru_cache
from typing import Any

from policies.k8s import GPU_RESOURCE, format_number, mapping, mappings, quantity, texts
from policies.model import NONE, Found, Param, Params, Resource, Rule, Stack, Violation, violation
from policies.walker import POD_KINDS, Container, PodSpec

EPHEMERAL = "ephemeralContainers"
SYSTEM_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"]  # ephemeral containers cannot set resources


def container_requests(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if c.section == EPHEMERAL or (c.requests.get("cpu") is not None and c.requests.get("memory") is not None):
        return NONE
    missing = [name for name in ("cpu", "memory") if c.requests.get(name) is None]
    return violation(f"{c.path}.resources.requests", f"no {' and '.join(missing)} request")


def container_memory_limit(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if c.section == EPHEMERAL or c.limits.get("memory") is not None:
        return NONE
    return violation(f"{c.path}.resources.limits", "no memory limit")


def container_cpu_limit(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if c.section == EPHEMERAL or c.limits.get("cpu") is not None:
        return NONE
    return violation(f"{c.path}.resources.limits", "no cpu limit")


def limit_request_ratio(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    found = []
    for name, key in (("cpu", "maxCpuRatio"), ("memory", "maxMemoryRatio")):
        request, limit = c.requests.get(name), c.limits.get(name)
        if request is not None and limit is not None and request != limit:
            try:
                problem = _ratio_problem(request, limit, params[key])
            except TypeError:  # unhashable, so not a quantity
                continue
            if problem is not None:
                section, message = problem
                found.append(Violation(f"{c.path}.resources.{section}", f"{name} {message}"))
    return found


@lru_cache(maxsize=4096, typed=True)
def _ratio_problem(raw_request: Any, raw_limit: Any, raw_maximum: Any) -> tuple[str, str] | None:
    """(section, message) when the limit is below the request or too many times it; cached (values repeat)."""
    request, limit, maximum = quantity(raw_request), quantity(raw_limit), quantity(raw_maximum)
    if request is None or limit is None or maximum is None:
        return None
    if limit < request:
        return "limits", f"limit {raw_limit} is below the request {raw_request}"
    if request == 0:
        return "requests", "request is zero"
    if limit / request > maximum:
        ratio = format_number((limit / request).quantize(Decimal("0.01")))
        return "limits", f"limit/request ratio {ratio} exceeds {format_number(maximum)}"
    return None


CEILINGS = (("cpu", "maxCpu"), ("memory", "maxMemory"))


def resource_max(pod: PodSpec, resource: Resource, params: Params) -> Found:
    found = []
    for c in pod.containers:
        for name, key in CEILINGS:
            section, raw = "limits", c.limits.get(name)
            if raw is None:
                section, raw = "requests", c.requests.get(name)
            amount, ceiling = quantity(raw), quantity(params[key])
            if amount is not None and ceiling is not None and amount > ceiling:
                message = f"{name} {raw} exceeds the ceiling {params[key]}"
                found.append(Violation(f"{c.path}.resources.{section}", message))
    ceiling = quantity(params["maxGpuPerPod"])
    if ceiling is not None and pod.gpus > ceiling:
        message = f"{format_number(pod.gpus)} GPUs per pod exceed the ceiling {format_number(ceiling)}"
        found.append(Violation(f"{pod.path}.containers", message))
    return found


def ephemeral_storage(pod: PodSpec, resource: Resource, params: Params) -> Found:
    found = []
    for c in pod.containers:
        if c.section == EPHEMERAL:
            continue
        if c.requests.get("ephemeral-storage") is None:
            found.append(Violation(f"{c.path}.resources.requests", "no ephemeral-storage request"))
        if c.limits.get("ephemeral-storage") is None:
            found.append(Violation(f"{c.path}.resources.limits", "no ephemeral-storage limit"))
    volumes = pod.spec.get("volumes")
    if volumes:
        for index, volume in mappings(volumes):
            empty_dir = volume.get("emptyDir")
            if empty_dir is not None and mapping(empty_dir).get("sizeLimit") is None:
                message = f"emptyDir volume {volume.get('name')!r} has no sizeLimit"
                found.append(Violation(f"{pod.path}.volumes[{index}].emptyDir", message))
    return found


def namespace_quota(stack: Stack, params: Params) -> Iterator[Violation]:
    """Namespaces with workloads declare a ResourceQuota; one capping GPUs where GPU workloads run."""
    ignored = set(texts(params["ignoreNamespaces"]))
    quotas: dict[str, list[Resource]] = {}
    for quota in stack.of_kind("ResourceQuota"):
        quotas.setdefault(quota.namespace or "default", []).append(quota)
    limit_ranges = {r.namespace or "default" for r in stack.of_kind("LimitRange")}
    workloads: dict[str, list[Resource]] = {}
    for resource in stack.with_pods():
        if (resource.namespace or "default") not in ignored:
            workloads.setdefault(resource.namespace or "default", []).append(resource)
    for namespace, members in workloads.items():
        first = members[0]
        if namespace not in quotas:
            yield Violation("metadata.namespace", f"namespace {namespace!r} has workloads but no ResourceQuota", first)
            continue
        if params["requireLimitRange"] and namespace not in limit_ranges:
            yield Violation("metadata.namespace", f"namespace {namespace!r} has no LimitRange", first)
        hard = {key for quota in quotas[namespace] for key in mapping(quota.spec.get("hard")) if isinstance(key, str)}
        uses_gpus = any(pod.gpus for member in members for pod in member.pods)
        if uses_gpus and not hard & {f"requests.{GPU_RESOURCE}", f"limits.{GPU_RESOURCE}"}:
            message = f"namespace {namespace!r} runs GPU workloads but its quota does not cap requests.{GPU_RESOURCE}"
            yield Violation("spec.hard", message, quotas[namespace][0])


RULES = [
    Rule(
        "k8s-container-requests",
        "Every container sets cpu and memory requests (Kueue admits and the scheduler packs on them).",
        "high",
        "mandatory",
        "container",
        container_requests,
        POD_KINDS,
    ),
    Rule(
        "k8s-container-memory-limit",
        "Every container sets a memory limit.",
        "high",
        "mandatory",
        "container",
        container_memory_limit,
        POD_KINDS,
    ),
    Rule(
        "k8s-container-cpu-limit",
        "Every container sets a cpu limit (CPU throttling starves data loaders).",
        "medium",
        "advisory",
        "container",
        container_cpu_limit,
        POD_KINDS,
    ),
    Rule(
        "k8s-limit-request-ratio",
        "Limits stay within a ratio of requests (memory limit equal to the request by default).",
        "medium",
        "advisory",
        "container",
        limit_request_ratio,
        POD_KINDS,
        params={
            "maxCpuRatio": Param(4, "number", "largest cpu limit/request ratio"),
            "maxMemoryRatio": Param(1, "number", "largest memory limit/request ratio (1 = limit equals request)"),
        },
    ),
    Rule(
        "k8s-resource-max",
        "Containers stay under the per-environment cpu and memory ceilings, pods under the GPU ceiling.",
        "medium",
        "mandatory",
        "pod",
        resource_max,
        POD_KINDS,
        params={
            "maxCpu": Param("32", "quantity", "largest cpu limit (or request) per container"),
            "maxMemory": Param("256Gi", "quantity", "largest memory limit (or request) per container"),
            "maxGpuPerPod": Param(8, "number", "largest number of accelerators per pod"),
        },
    ),
    Rule(
        "k8s-ephemeral-storage",
        "Containers request and limit ephemeral-storage and emptyDir volumes set a sizeLimit (model downloads "
        "cause DiskPressure evictions).",
        "medium",
        "advisory",
        "pod",
        ephemeral_storage,
        POD_KINDS,
    ),
    Rule(
        "k8s-namespace-quota",
        "Every namespace with workloads declares a ResourceQuota, capping GPUs where GPU workloads run.",
        "medium",
        "advisory",
        "stack",
        namespace_quota,
        params={
            "ignoreNamespaces": Param(SYSTEM_NAMESPACES, "strings", "namespaces not checked"),
            "requireLimitRange": Param(False, "boolean", "also require a LimitRange"),
        },
    ),
]
