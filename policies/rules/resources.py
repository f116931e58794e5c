"""Section A: container requests and limits, ratios and per-environment ceilings.

Kueue admits workloads on their requests and the scheduler packs GPU nodes by them, so a container
without requests either bypasses quota or lands where it starves its neighbours.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

from policies.k8s import (
    GPU_RESOURCE,
    format_number,
    gpu_count,
    limits_of,
    mapping,
    mappings,
    quantity,
    requests_of,
    texts,
)
from policies.model import Param, Params, Resource, Rule, Violation
from policies.walker import POD_KINDS


def _missing(values: object, names: tuple[str, ...]) -> list[str]:
    present = mapping(values)
    return [name for name in names if present.get(name) is None]


def container_requests(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for container in pod.containers:
            if container.section == "ephemeralContainers":  # ephemeral containers cannot set resources
                continue
            missing = _missing(requests_of(container.spec), ("cpu", "memory"))
            if missing:
                yield Violation(f"{container.path}.resources.requests", f"no {' and '.join(missing)} request")


def container_memory_limit(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for container in pod.containers:
            if container.section != "ephemeralContainers" and limits_of(container.spec).get("memory") is None:
                yield Violation(f"{container.path}.resources.limits", "no memory limit")


def container_cpu_limit(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for container in pod.containers:
            if container.section != "ephemeralContainers" and limits_of(container.spec).get("cpu") is None:
                yield Violation(f"{container.path}.resources.limits", "no cpu limit")


def limit_request_ratio(resource: Resource, params: Params) -> Iterator[Violation]:
    maxima = {"cpu": quantity(params["maxCpuRatio"]), "memory": quantity(params["maxMemoryRatio"])}
    for pod in resource.pods:
        for container in pod.containers:
            requests, limits = requests_of(container.spec), limits_of(container.spec)
            for name, maximum in maxima.items():
                request, limit = quantity(requests.get(name)), quantity(limits.get(name))
                if request is None or limit is None or maximum is None:
                    continue
                path = f"{container.path}.resources.limits"
                if limit < request:
                    yield Violation(path, f"{name} limit {limits.get(name)} is below the request {requests.get(name)}")
                elif request == 0:
                    yield Violation(f"{container.path}.resources.requests", f"{name} request is zero")
                elif limit / request > maximum:
                    ratio = format_number((limit / request).quantize(Decimal("0.01")))
                    yield Violation(path, f"{name} limit/request ratio {ratio} exceeds {format_number(maximum)}")


def resource_max(resource: Resource, params: Params) -> Iterator[Violation]:
    ceilings = {"cpu": quantity(params["maxCpu"]), "memory": quantity(params["maxMemory"])}
    max_gpus = quantity(params["maxGpuPerPod"])
    for pod in resource.pods:
        for container in pod.containers:
            requests, limits = requests_of(container.spec), limits_of(container.spec)
            for name, ceiling in ceilings.items():
                key = "limits" if limits.get(name) is not None else "requests"
                raw = (limits if key == "limits" else requests).get(name)
                amount = quantity(raw)
                if amount is not None and ceiling is not None and amount > ceiling:
                    yield Violation(
                        f"{container.path}.resources.{key}",
                        f"{name} {raw} exceeds the ceiling {params['max' + name.capitalize()]}",
                    )
        gpus = sum((gpu_count(container.spec) for container in pod.app_containers), Decimal(0))
        if max_gpus is not None and gpus > max_gpus:
            yield Violation(
                f"{pod.path}.containers",
                f"{format_number(gpus)} GPUs per pod exceed the ceiling {format_number(max_gpus)}",
            )


def ephemeral_storage(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        for container in pod.containers:
            if container.section == "ephemeralContainers":
                continue
            for key, values in (("requests", requests_of(container.spec)), ("limits", limits_of(container.spec))):
                if values.get("ephemeral-storage") is None:
                    yield Violation(f"{container.path}.resources.{key}", f"no ephemeral-storage {key[:-1]}")
        for index, volume in mappings(pod.spec.get("volumes")):
            empty_dir = volume.get("emptyDir")
            if empty_dir is not None and mapping(empty_dir).get("sizeLimit") is None:
                yield Violation(
                    f"{pod.path}.volumes[{index}].emptyDir", f"emptyDir volume {volume.get('name')!r} has no sizeLimit"
                )


# --- stack: namespaces with workloads declare a ResourceQuota -----------------------------------------


def _workload_namespaces(resources: Sequence[Resource], ignored: set[str]) -> dict[str, list[Resource]]:
    found: dict[str, list[Resource]] = {}
    for resource in resources:
        if resource.kind in POD_KINDS and resource.pods:
            namespace = resource.namespace or "default"
            if namespace not in ignored:
                found.setdefault(namespace, []).append(resource)
    return found


def namespace_quota(resources: Sequence[Resource], params: Params) -> Iterator[Violation]:
    ignored = set(texts(params["ignoreNamespaces"]))
    quotas: dict[str, list[Resource]] = {}
    limit_ranges: set[str] = set()
    for resource in resources:
        if resource.kind == "ResourceQuota":
            quotas.setdefault(resource.namespace or "default", []).append(resource)
        elif resource.kind == "LimitRange":
            limit_ranges.add(resource.namespace or "default")
    for namespace, workloads in _workload_namespaces(resources, ignored).items():
        first = workloads[0]
        if namespace not in quotas:
            yield Violation("metadata.namespace", f"namespace {namespace!r} has workloads but no ResourceQuota", first)
            continue
        if params["requireLimitRange"] and namespace not in limit_ranges:
            yield Violation("metadata.namespace", f"namespace {namespace!r} has no LimitRange", first)
        uses_gpus = any(gpu_count(c.spec) for w in workloads for pod in w.pods for c in pod.containers)
        hard_keys = {
            key for quota in quotas[namespace] for key in mapping(quota.spec.get("hard")) if isinstance(key, str)
        }
        if uses_gpus and not hard_keys & {f"requests.{GPU_RESOURCE}", f"limits.{GPU_RESOURCE}"}:
            quota = quotas[namespace][0]
            yield Violation(
                "spec.hard",
                f"namespace {namespace!r} runs GPU workloads but its quota does not cap requests.{GPU_RESOURCE}",
                quota,
            )


RULES = [
    Rule(
        "k8s-container-requests",
        "Every container sets cpu and memory requests (Kueue admits and the scheduler packs on them).",
        "high",
        "mandatory",
        POD_KINDS,
        container_requests,
    ),
    Rule(
        "k8s-container-memory-limit",
        "Every container sets a memory limit.",
        "high",
        "mandatory",
        POD_KINDS,
        container_memory_limit,
    ),
    Rule(
        "k8s-container-cpu-limit",
        "Every container sets a cpu limit (CPU throttling starves data loaders).",
        "medium",
        "advisory",
        POD_KINDS,
        container_cpu_limit,
    ),
    Rule(
        "k8s-limit-request-ratio",
        "Limits stay within a ratio of requests (memory limit equal to the request by default).",
        "medium",
        "advisory",
        POD_KINDS,
        limit_request_ratio,
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
        POD_KINDS,
        resource_max,
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
        POD_KINDS,
        ephemeral_storage,
    ),
    Rule(
        "k8s-namespace-quota",
        "Every namespace with workloads declares a ResourceQuota, capping GPUs where GPU workloads run.",
        "medium",
        "advisory",
        check_stack=namespace_quota,
        params={
            "ignoreNamespaces": Param(
                ["kube-system", "kube-public", "kube-node-lease"], "strings", "namespaces not checked"
            ),
            "requireLimitRange": Param(False, "boolean", "also require a LimitRange"),
        },
    ),
]
