"""Every shipped stack's workloads, rendered through the components under recording mocks, against the
pinned upstream CRD schemas (closed objects, defaults applied), plus the CEL rules the validator skips."""

from __future__ import annotations

from collections.abc import Iterator

import pulumi
import pytest

from components.workloads import Workloads, WorkloadsArgs
from tests.support.crd_schema import known_kinds, validate_custom_resource
from tests.support.reference import reference_dir
from tests.workloads.support import STACKS, FakeIdentity, stack_platform
from tools.mock_runtime import Recording, Registration, record

# Built-in kinds the components register with typed pulumi_kubernetes resources (no CRD to check against).
BUILT_IN = {"v1", "networking.k8s.io/v1", "policy/v1"}


def render(environment: str) -> Recording:
    platform = stack_platform(environment)

    def program() -> None:
        identity = FakeIdentity.create() if platform.spec.cluster.mode == "eks" else None
        workloads = Workloads("workloads", WorkloadsArgs(platform=platform, identity=identity, ready={}))
        pulumi.export("model_endpoints", workloads.endpoints)

    return record(program, stack=environment)


@pytest.fixture(scope="module", params=STACKS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, Recording]:
    return request.param, render(request.param)


def kubernetes_objects(recording: Recording) -> Iterator[tuple[Registration, str, str]]:
    for registration in recording.custom_resources():
        if registration.type.startswith("kubernetes:"):
            api_version, kind = registration.type.removeprefix("kubernetes:").rsplit(":", 1)
            yield registration, api_version.replace("core/v1", "v1"), kind


def crd_problems(recording: Recording) -> list[str]:
    """`<resource name> (<apiVersion> <kind>): <field path>: <reason>` for every invalid custom resource."""
    problems = []
    for registration, api_version, kind in kubernetes_objects(recording):
        if api_version not in BUILT_IN:
            problems += [f"{registration.name} ({api_version} {kind}): {problem}"
                         for problem in validate_custom_resource(registration.inputs)]
    return problems


def test_every_custom_resource_is_valid_for_its_pinned_crd(rendered: tuple[str, Recording]) -> None:
    reference_dir()
    environment, recording = rendered
    custom = [(a, k) for _, a, k in kubernetes_objects(recording) if a not in BUILT_IN]
    assert custom, f"{environment}: nothing rendered"
    # Every custom kind has a pinned CRD, so nothing escapes validation.
    assert {pair for pair in custom} <= known_kinds()
    assert crd_problems(recording) == []


def test_a_schema_violation_names_the_resource_and_the_field_path() -> None:
    reference_dir()
    recording = render("prod")
    queue = next(r for r, _, kind in kubernetes_objects(recording) if kind == "ClusterQueue")
    queue.inputs["spec"]["cohort"] = queue.inputs["spec"].pop("cohortName")  # the v1beta1 spelling
    assert crd_problems(recording) == [
        f"{queue.name} (kueue.x-k8s.io/v1beta2 ClusterQueue): spec: Additional properties are not allowed "
        "('cohort' was unexpected)"]


def test_cel_rules_the_schema_validator_does_not_run(rendered: tuple[str, Recording]) -> None:
    _, recording = rendered
    for registration, _, kind in kubernetes_objects(recording):
        spec = registration.inputs.get("spec", {})
        if kind == "ClusterQueue":
            for group in spec.get("resourceGroups", []):
                for flavor in group["flavors"]:
                    assert [r["name"] for r in flavor["resources"]] == group["coveredResources"], registration.name
                    assert "cohortName" in spec or all("borrowingLimit" not in r for r in flavor["resources"])
        if kind == "VirtualService":
            for http in spec["http"]:
                weights = [route["weight"] for route in http["route"] if "weight" in route]
                assert not weights or sum(weights) == 100, registration.name
        if kind == "AuthorizationPolicy":
            assert sum(key in spec for key in ("selector", "targetRef", "targetRefs")) <= 1
        if kind == "LocalQueue":
            assert spec["clusterQueue"]


def test_every_workload_container_is_restricted_and_sized(rendered: tuple[str, Recording]) -> None:
    """What a strict policy pack checks: requests = limits, GPU limit = request, non-root, no escalation,
    drop ALL, RuntimeDefault seccomp, pinned tags, recommended labels."""
    _, recording = rendered
    for registration, _, kind in kubernetes_objects(recording):
        if kind not in {"InferenceService", "RayCluster", "RayJob", "RayService"}:
            continue
        labels = registration.inputs["metadata"]["labels"]
        assert {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"} <= set(labels)
        for path, container in _containers(kind, registration.inputs["spec"]):
            where = f"{registration.name} {path}"
            resources = container["resources"]
            assert resources["requests"] == resources["limits"], where
            assert {"cpu", "memory"} <= set(resources["limits"]), where
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True and context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
            image = container.get("image")
            assert image is None or (":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")), where


def _containers(kind: str, spec: dict) -> Iterator[tuple[str, dict]]:
    if kind == "InferenceService":
        predictors = [("spec.predictor", spec["predictor"])] + [
            (f"spec.canary[{i}].predictor", canary["predictor"]) for i, canary in enumerate(spec.get("canary", []))]
        for path, predictor in predictors:
            if "model" in predictor:
                yield f"{path}.model", predictor["model"]
            for index, container in enumerate(predictor.get("containers", [])):
                yield f"{path}.containers[{index}]", container
        return
    nested = {"RayCluster": None, "RayJob": "rayClusterSpec", "RayService": "rayClusterConfig"}[kind]
    cluster = spec[nested] if nested else spec
    templates = [("headGroupSpec", cluster["headGroupSpec"]["template"])] + [
        (f"workerGroupSpecs[{i}]", group["template"]) for i, group in enumerate(cluster["workerGroupSpecs"])]
    if kind == "RayJob":
        templates.append(("submitterPodTemplate", spec["submitterPodTemplate"]))
    for path, template in templates:
        for index, container in enumerate(template["spec"]["containers"]):
            yield f"{path}.containers[{index}]", container
    if "autoscalerOptions" in cluster:
        yield "autoscalerOptions", cluster["autoscalerOptions"]
