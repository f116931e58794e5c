"""The components register exactly the builders' objects: child types and names, the parent chain, the
caller's providers, only the dependency edges that are real, IRSA only on EKS with S3 models, skip-await."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from components.workloads import Workloads, WorkloadsArgs
from tests.workloads.support import ISSUER, PROVIDER_ARN, FakeIdentity, platform_of, spec_of
from tools.mock_runtime import Recording, Registration, record

ADDONS = ("kueue", "kuberay", "kserve", "istio", "monitoring")
MODEL = {"team": "ml", "pool": "l4", "model": {"format": "huggingface", "storage_uri": "s3://models/llm/v1"},
         "resources": {"cpu": "8", "memory": "40Gi", "gpus": 1}, "replicas": {"min": 2, "max": 3}}
GROUP = {"pool": "l4", "replicas": {"min": 1, "max": 1}, "resources": {"cpu": "8", "memory": "32Gi", "gpus": 1}}
WORKLOADS: dict[str, Any] = {
    "model_services": {"llm": MODEL},
    "ray_clusters": {"train": {"team": "research", "worker_groups": {"gpu": GROUP}}},
    "ray_jobs": {"tune": {"team": "ml", "entrypoint": "python tune.py", "cluster": {"worker_groups": {"gpu": GROUP}}}},
    "ray_services": {"chat": {"team": "ml", "serve_config": {"applications": []},
                              "cluster": {"worker_groups": {"gpu": GROUP}}}},
}


def render(*, identity: bool = True, skip_await: bool = False, preinstalled: frozenset[str] = frozenset(),
           **sections: Any) -> Recording:
    platform = platform_of(spec_of(**{**WORKLOADS, **sections}), skip_await=skip_await,
                           preinstalled_addons=preinstalled)

    def program() -> None:
        kubernetes = k8s.Provider("cluster", kubeconfig="{}")
        cloud = aws.Provider("cloud", region="us-east-1")
        ready = {addon: [k8s.core.v1.ConfigMap(f"{addon}-ready", metadata={"name": addon})] for addon in ADDONS}
        workloads = Workloads("workloads", WorkloadsArgs(
            platform=platform, identity=FakeIdentity.create() if identity else None, ready=ready,
        ), opts=pulumi.ResourceOptions(providers={"kubernetes": kubernetes, "aws": cloud}))
        pulumi.export("endpoints", workloads.endpoints)

    return record(program)


@pytest.fixture(scope="module")
def recording() -> Recording:
    return render()


def _ready(recording: Recording, addon: str) -> str:
    return recording.named(f"{addon}-ready").urn


def _parents(recording: Recording, registration: Registration) -> list[str]:
    """Types of the ancestors, nearest first (the stack itself is not recorded)."""
    recorded = {r.urn: r for r in recording.resources}
    chain = []
    while registration.parent in recorded:
        registration = recorded[registration.parent]
        chain.append(registration.type)
    return chain


def test_workloads_composes_one_component_per_declaration(recording: Recording) -> None:
    workloads = recording.named("workloads")
    assert workloads.type == "gpuplat:workloads:Workloads"
    children = {(child.type, child.name) for child in recording.children_of(workloads)}
    assert children == {
        ("gpuplat:queues:Queues", "workloads-queues"),
        ("gpuplat:teams:Team", "workloads-team-ml"),
        ("gpuplat:teams:Team", "workloads-team-research"),
        ("gpuplat:serving:ModelService", "workloads-llm"),
        ("gpuplat:ray:RayCluster", "workloads-train"),
        ("gpuplat:ray:RayJob", "workloads-tune"),
        ("gpuplat:ray:RayService", "workloads-chat"),
    }


def test_team_children_and_parent_chain(recording: Recording) -> None:
    team = recording.named("workloads-team-research")
    assert {(c.type, c.name) for c in recording.children_of(team)} == {
        ("kubernetes:core/v1:Namespace", "workloads-team-research-namespace"),
        ("kubernetes:core/v1:ResourceQuota", "workloads-team-research-quota"),
        ("kubernetes:core/v1:LimitRange", "workloads-team-research-limits"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "workloads-team-research-default-deny-ingress"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "workloads-team-research-allow-ray-in-namespace"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "workloads-team-research-allow-kuberay-to-ray-head"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "workloads-team-research-allow-gateway-to-ray"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "workloads-team-research-allow-monitoring"),
        ("kubernetes:security.istio.io/v1:AuthorizationPolicy", "workloads-team-research-allow-same-namespace"),
        ("kubernetes:core/v1:ServiceAccount", "workloads-team-research-service-account"),
        ("kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue", "workloads-team-research-queue-gpu"),
        ("kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue", "workloads-team-research-queue-default"),
    }
    quota = recording.named("workloads-team-research-quota")
    assert _parents(recording, quota) == ["gpuplat:teams:Team", "gpuplat:workloads:Workloads"]


def test_children_use_the_callers_providers(recording: Recording) -> None:
    for registration in recording.custom_resources():
        if registration.name.startswith("workloads-"):
            expected = "cluster" if registration.type.startswith("kubernetes:") else "cloud"
            assert f"::{expected}::" in registration.provider, registration.name


def test_namespaced_objects_depend_on_their_namespace_through_data_flow(recording: Recording) -> None:
    namespace = recording.named("workloads-team-ml-namespace").urn
    for name in ("workloads-team-ml-quota", "workloads-team-ml-queue-default", "workloads-llm-inference-service",
                 "workloads-tune-ray-job", "workloads-llm-service-account"):
        assert namespace in recording.named(name).dependencies, name
    assert recording.named("workloads-llm-inference-service").inputs["metadata"]["namespace"] == "ml"


def test_each_object_waits_only_for_its_own_addon(recording: Recording) -> None:
    def waits(name: str) -> set[str]:
        deps = set(recording.named(name).dependencies)
        return {addon for addon in ADDONS if _ready(recording, addon) in deps}

    assert waits("workloads-queues-flavor-l4") == {"kueue"}
    assert waits("workloads-queues-cluster-queue-ml") == {"kueue"}
    assert waits("workloads-queues-priority-batch") == {"kueue"}
    assert waits("workloads-team-ml-queue-default") == {"kueue"}
    assert waits("workloads-team-ml-quota") == set()
    assert waits("workloads-llm-inference-service") == {"kserve"}
    assert waits("workloads-llm-virtual-service") == {"istio"}
    assert waits("workloads-llm-authorization") == {"istio"}
    assert waits("workloads-llm-monitor") == {"monitoring"}
    assert waits("workloads-train-ray-cluster") == {"kuberay", "kueue"}  # Kueue's webhook admits it
    assert waits("workloads-train-dashboard") == {"istio"}


def test_real_ordering_edges(recording: Recording) -> None:
    cluster_queue = recording.named("workloads-queues-cluster-queue-ml")
    assert recording.named("workloads-queues-flavor-l4").urn in cluster_queue.dependencies
    ray_cluster = recording.named("workloads-train-ray-cluster")
    assert recording.named("workloads-team-research-queue-gpu").urn in ray_cluster.dependencies
    inference = recording.named("workloads-llm-inference-service")
    assert recording.named("workloads-llm-service-account").urn in inference.dependencies
    assert recording.named("workloads-llm-model-read").urn in inference.dependencies


def test_irsa_role_trusts_only_the_service_account_and_reads_only_the_model(recording: Recording) -> None:
    role = recording.named("workloads-llm-model-reader")
    assert role.type == "aws:iam/role:Role"
    trust = json.loads(role.inputs["assumeRolePolicy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert condition == {f"{ISSUER}:sub": "system:serviceaccount:ml:llm-model", f"{ISSUER}:aud": "sts.amazonaws.com"}
    assert trust["Statement"][0]["Principal"] == {"Federated": PROVIDER_ARN}
    policy = json.loads(recording.named("workloads-llm-model-read").inputs["policy"])
    assert [s["Resource"] for s in policy["Statement"]] == [["arn:aws:s3:::models/llm/v1/*"],
                                                            ["arn:aws:s3:::models"]]
    account = recording.named("workloads-llm-service-account").inputs["metadata"]
    assert account["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:mock:::workloads-llm-model-reader",
                                      "serving.kserve.io/s3-region": "us-east-1"}


def test_no_aws_role_without_identity_or_without_an_s3_model() -> None:
    for recording in (render(identity=False),
                      render(model_services={"llm": {**MODEL, "model": {"format": "hf", "storage_uri": "hf://a/b"}}})):
        assert not [r for r in recording.resources if r.type.startswith("aws:iam")]
        assert "annotations" not in recording.named("workloads-llm-service-account").inputs["metadata"]


def test_pdb_registered_only_for_min_replicas_above_one(recording: Recording) -> None:
    budget = recording.named("workloads-llm-disruption-budget")
    assert budget.type == "kubernetes:policy/v1:PodDisruptionBudget"
    single = render(model_services={"llm": {**MODEL, "replicas": {"min": 1, "max": 2}}})
    assert not [r for r in single.resources if r.type.endswith(":PodDisruptionBudget")]


def test_skip_await_marks_the_objects_with_readiness() -> None:
    flagged = render(skip_await=True)
    for name in ("workloads-llm-inference-service", "workloads-train-ray-cluster", "workloads-tune-ray-job",
                 "workloads-chat-ray-service"):
        assert flagged.named(name).inputs["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true", name
    assert "pulumi.com/skipAwait" not in render().named("workloads-llm-inference-service").inputs["metadata"][
        "annotations"]


def test_without_mesh_monitoring_or_kueue_those_objects_do_not_exist() -> None:
    recording = render(addons={"istio": {"enabled": False}, "monitoring": {"enabled": False},
                               "kueue": {"enabled": False}})
    kinds = {r.kind for r in recording.resources}
    assert not kinds & {"VirtualService", "AuthorizationPolicy", "ServiceMonitor", "LocalQueue",
                        "ClusterQueue", "ResourceFlavor", "Queues"}
    labels = recording.named("workloads-train-ray-cluster").inputs["metadata"]["labels"]
    assert "kueue.x-k8s.io/queue-name" not in labels
    namespace = recording.named("workloads-team-ml-namespace").inputs["metadata"]["labels"]
    assert "istio-injection" not in namespace


def test_preinstalled_addons_count_as_present() -> None:
    recording = render(addons={"istio": {"enabled": False}}, preinstalled=frozenset({"istio"}))
    assert recording.named("workloads-llm-virtual-service").kind == "VirtualService"


def test_endpoints_map_each_model_service_to_its_gateway_url() -> None:
    captured: list[Workloads] = []
    platform = platform_of(spec_of(**WORKLOADS))

    def program() -> None:
        captured.append(Workloads("workloads", WorkloadsArgs(platform=platform)))

    record(program)
    assert captured[0].endpoints == {"llm": "https://llm.ml.ml.example.com/"}
    assert captured[0].ray_endpoints == {"chat": "https://chat.ml.ml.example.com/"}
