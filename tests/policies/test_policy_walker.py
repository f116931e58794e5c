"""The pod-spec walker finds every nested pod spec and container, with exact paths and roles."""

from __future__ import annotations

import pytest
from policy_fixtures import GPU, GPU_POD, SHAPES, build, pod_spec

from policies.engine import Engine
from policies.walker import pod_specs


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_walker_finds_the_target_pod_and_container(shape: str) -> None:
    resource = build(shape)
    paths = SHAPES[shape].paths()
    pods = {pod.path: pod for pod in resource.pods}
    assert paths["p"] in pods
    assert paths["c"] in [container.path for container in pods[paths["p"]].containers]


def test_ray_cluster_roles_and_paths() -> None:
    pods = build("rayjob").pods
    assert [(pod.path, pod.role) for pod in pods] == [
        ("spec.rayClusterSpec.headGroupSpec.template.spec", "ray-head"),
        ("spec.rayClusterSpec.workerGroupSpecs[0].template.spec", "ray-worker"),
        ("spec.submitterPodTemplate.spec", "ray-submitter"),
    ]
    assert pods[0].metadata_path == "spec.rayClusterSpec.headGroupSpec.template.metadata"
    assert pods[0].cluster["rayVersion"] == "2.40.0"


def test_inference_service_components_frameworks_and_workers() -> None:
    container = pod_spec()["containers"][0]
    spec = {
        "predictor": {
            "sklearn": {"storageUri": "s3://m"},
            "containers": [container],
            "workerSpec": {"containers": [container]},
        },
        "transformer": {"containers": [container], "initContainers": [container]},
        "explainer": {"containers": [container], "ephemeralContainers": [{"name": "debug"}]},
        "canary": [{"predictor": {"model": container}}, "not a mapping"],
    }
    pods = pod_specs("InferenceService", {"spec": spec})
    found = [(pod.role, container.path, container.section) for pod in pods for container in pod.containers]
    assert found == [
        ("kserve-predictor", "spec.predictor.sklearn", "sklearn"),
        ("kserve-predictor", "spec.predictor.containers[0]", "containers"),
        ("kserve-worker", "spec.predictor.workerSpec.containers[0]", "containers"),
        ("kserve-transformer", "spec.transformer.containers[0]", "containers"),
        ("kserve-transformer", "spec.transformer.initContainers[0]", "initContainers"),
        ("kserve-explainer", "spec.explainer.containers[0]", "containers"),
        ("kserve-explainer", "spec.explainer.ephemeralContainers[0]", "ephemeralContainers"),
        ("kserve-predictor", "spec.canary[0].predictor.model", "model"),
    ]
    assert pods[0].path == "spec.predictor" and pods[0].metadata_path == "spec.predictor"


def test_job_set_and_pod_template() -> None:
    template = {"spec": pod_spec()}
    job_set = {"spec": {"replicatedJobs": [{"name": "w", "template": {"spec": {"template": template}}}]}}
    assert [pod.path for pod in pod_specs("JobSet", job_set)] == ["spec.replicatedJobs[0].template.spec.template.spec"]
    assert [pod.path for pod in pod_specs("PodTemplate", {"template": template})] == ["template.spec"]


@pytest.mark.parametrize(
    "props",
    [
        {},
        {"spec": None},
        {"spec": []},
        {"spec": {"template": "x"}},
        {"spec": {"template": {"spec": {"containers": "nope", "initContainers": [1, None, "x"]}}}},
        {"spec": {"workerGroupSpecs": {"a": 1}, "headGroupSpec": []}},
        {"spec": {"predictor": {"containers": [None], "model": "x"}, "canary": "x"}},
    ],
)
@pytest.mark.parametrize("kind", ["Deployment", "RayCluster", "RayJob", "InferenceService", "CronJob", "ConfigMap"])
def test_odd_shapes_yield_no_pods_and_no_errors(kind: str, props: dict) -> None:
    for pod in pod_specs(kind, props):
        assert pod.containers == ()


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_good_fixtures_pass_every_resource_rule(shape: str) -> None:
    """The baseline really is compliant: any violation in a case comes from its patch."""
    assert Engine().check_resource(build(shape)) == []


@pytest.mark.parametrize("shape", ["deployment", "raycluster", "rayjob", "isvc", "job"])
def test_good_gpu_workloads_pass_every_resource_rule(shape: str) -> None:
    queued = {"labels": {"kueue.x-k8s.io/queue-name": "training", "kueue.x-k8s.io/priority-class": "high"}}
    assert Engine().check_resource(build(shape, GPU, GPU_POD, queued)) == []
