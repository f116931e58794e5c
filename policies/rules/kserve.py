"""KServe rules on InferenceService components (predictor, transformer, explainer, v0.20 canaries)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from policies.k8s import mappings, number, text, texts
from policies.model import Param, Params, Resource, Rule, Violation
from policies.walker import KSERVE_FRAMEWORKS

COMPONENT_ROLES = ("kserve-predictor", "kserve-transformer", "kserve-explainer")


def replica_bounds(resource: Resource, params: Params) -> Iterator[Violation]:
    for pod in resource.pods:
        if pod.role not in COMPONENT_ROLES:
            continue
        low, high = number(pod.spec.get("minReplicas")), number(pod.spec.get("maxReplicas"))
        # A Standard-mode canary (`spec.canary[]`) gets its upper bound from KServe, sized by its traffic share
        # of the stable predictor's bounds (KServe rejects one set on it): only bounds that are set are checked.
        canary = pod.path.startswith("spec.canary[")
        if canary and high is None:
            continue
        if low is None:
            yield Violation(
                f"{pod.path}.minReplicas", "minReplicas not set (KServe defaults to 1, or 0 with scale-to-zero)"
            )
        elif low == 0 and params["requireWarmGpu"] and pod.role == "kserve-predictor" and pod.gpus:
            yield Violation(
                f"{pod.path}.minReplicas", "GPU predictor scales to zero: every cold start reloads a multi-GB model"
            )
        if not high:
            yield Violation(f"{pod.path}.maxReplicas", "maxReplicas not set: autoscaling is unbounded")
            continue
        if low is not None and high < low:
            yield Violation(f"{pod.path}.maxReplicas", f"maxReplicas {int(high)} is below minReplicas {int(low)}")
        if high > params["maxReplicas"]:
            yield Violation(
                f"{pod.path}.maxReplicas", f"maxReplicas {int(high)} exceeds the ceiling {params['maxReplicas']}"
            )


def storage_uri_allowlist(resource: Resource, params: Params) -> Iterator[Violation]:
    allowed = texts(params["allowedStorageUris"])

    def check(uri: object, path: str) -> Iterator[Violation]:
        if isinstance(uri, str) and not any(fnmatch.fnmatchcase(uri, pattern + "*") for pattern in allowed):
            yield Violation(path, f"storage URI {uri!r} is outside the allowlist ({', '.join(allowed)})")

    for pod in resource.pods:
        if pod.role not in COMPONENT_ROLES:
            continue
        for container in pod.containers:
            if container.section in KSERVE_FRAMEWORKS:
                yield from check(container.spec.get("storageUri"), f"{container.path}.storageUri")
        for index, entry in mappings(pod.spec.get("storageUris")):
            yield from check(entry.get("uri"), f"{pod.path}.storageUris[{index}].uri")
        yield from check(text(pod.spec.get("storageUri")), f"{pod.path}.storageUri")


RULES = [
    Rule(
        "kserve-replica-bounds",
        "InferenceService components set minReplicas and a bounded maxReplicas >= minReplicas; GPU predictors "
        "stay warm.",
        "high",
        "advisory",
        "resource",
        replica_bounds,
        frozenset({"InferenceService"}),
        params={
            "requireWarmGpu": Param(True, "boolean", "forbid minReplicas 0 on GPU predictors"),
            "maxReplicas": Param(16, "number", "largest maxReplicas per component"),
        },
    ),
    Rule(
        "kserve-storage-uri-allowlist",
        "Model storage URIs come from the allowed buckets and schemes.",
        "medium",
        "advisory",
        "resource",
        storage_uri_allowlist,
        frozenset({"InferenceService"}),
        params={"allowedStorageUris": Param(["s3://", "pvc://"], "strings", "glob prefixes, e.g. 's3://models-prod/'")},
    ),
]
