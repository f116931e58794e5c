"""Bare-SDK baseline: the replay registers the same custom resources, inputs, providers and edges, flat."""

from __future__ import annotations

from collections import Counter

import pulumi
import pulumi_kubernetes as k8s
import pytest

from benchmarks.baseline import RawObject, arguments, class_for, replay, replayed, resource_class, snake
from tools.mock_runtime import record


class _Team(pulumi.ComponentResource):
    def __init__(self, name: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__("gpuplat:test:Team", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = k8s.core.v1.Namespace(f"{name}-ns", metadata={"name": name}, opts=child)
        k8s.apiextensions.CustomResource(
            f"{name}-queue",
            api_version="kueue.x-k8s.io/v1beta2",
            kind="LocalQueue",
            metadata={"name": "default", "namespace": namespace.metadata.name},
            spec={"clusterQueue": name},
            opts=child,
        )
        self.register_outputs({})


def _program() -> None:
    provider = k8s.Provider("k8s", kubeconfig=pulumi.Output.secret("apiVersion: v1"), context="kind-gpuplat")
    chart = k8s.helm.v4.Chart(
        "kueue",
        chart="oci://registry.k8s.io/kueue/charts/kueue",
        values={"enableCertManager": True},
        opts=pulumi.ResourceOptions(provider=provider),
    )
    release = k8s.helm.v3.Release(
        "prom", chart="kube-prometheus-stack", namespace="monitoring", opts=pulumi.ResourceOptions(provider=provider)
    )
    for team in ("alpha", "beta"):
        _Team(team, pulumi.ResourceOptions(providers=[provider], depends_on=[chart, release]))


def _edges(resources) -> Counter:
    by_urn = {resource.urn: resource for resource in resources}
    return Counter(
        (resource.type, resource.name, by_urn[dependency].type, by_urn[dependency].name)
        for resource in resources
        for dependency in resource.dependencies
        if dependency in by_urn
    )


@pytest.mark.parametrize(
    ("token", "cls"),
    [
        ("kubernetes:core/v1:Namespace", k8s.core.v1.Namespace),
        ("kubernetes:apps/v1:Deployment", k8s.apps.v1.Deployment),
        ("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole", k8s.rbac.v1.ClusterRole),
        ("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", k8s.apiextensions.v1.CustomResourceDefinition),
        ("kubernetes:scheduling.k8s.io/v1:PriorityClass", k8s.scheduling.v1.PriorityClass),
        ("kubernetes:helm.sh/v3:Release", k8s.helm.v3.Release),
        ("kubernetes:helm.sh/v4:Chart", k8s.helm.v4.Chart),
        ("pulumi:providers:kubernetes", k8s.Provider),
        ("kubernetes:serving.kserve.io/v1beta1:InferenceService", k8s.apiextensions.CustomResource),
        ("kubernetes:networking.istio.io/v1:Gateway", k8s.apiextensions.CustomResource),
        ("kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue", k8s.apiextensions.CustomResource),
        ("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute", k8s.apiextensions.CustomResource),
    ],
)
def test_type_tokens_map_to_their_sdk_class(token: str, cls: type) -> None:
    assert resource_class(token) is cls


def test_wire_names_become_argument_names() -> None:
    assert [snake(name) for name in ("apiVersion", "metadata", "stringData", "kind")] == [
        "api_version",
        "metadata",
        "string_data",
        "kind",
    ]
    assert arguments(k8s.helm.v3.Release, {"chart": "x", "createNamespace": True, "notAnArgument": 1}) == {
        "chart": "x",
        "create_namespace": True,
    }


def test_replay_registers_the_same_resources_flat_with_inputs_and_inherited_edges() -> None:
    program = record(_program)
    baseline = record(replay(program.resources))

    expected = replayed(program.resources)
    assert Counter((r.type, r.name) for r in baseline.resources) == Counter((r.type, r.name) for r in expected)
    assert not [r for r in baseline.resources if r.type.startswith("gpuplat:")]
    parents = {r.parent for r in baseline.resources}
    assert len(parents) == 1
    assert parents.pop().split("::")[2] == "pulumi:pulumi:Stack"
    for original in expected:
        copy = next(r for r in baseline.resources if (r.type, r.name) == (original.type, original.name))
        assert copy.inputs == original.inputs, original.name
        assert bool(copy.provider) == bool(original.provider), original.name
    own = _edges(expected)
    assert _edges(baseline.resources) - own == Counter(
        {
            (kind, f"{team}-{suffix}", dependency_type, dependency): 1
            for team in ("alpha", "beta")
            for kind, suffix in (
                ("kubernetes:core/v1:Namespace", "ns"),
                ("kubernetes:kueue.x-k8s.io/v1beta2:LocalQueue", "queue"),
            )
            for dependency_type, dependency in (
                ("kubernetes:helm.sh/v4:Chart", "kueue"),
                ("kubernetes:helm.sh/v3:Release", "prom"),
            )
        }
    )
    assert own - _edges(baseline.resources) == Counter()


def test_replay_refuses_cloud_resources() -> None:
    program = record(lambda: pulumi.CustomResource("aws:s3/bucket:Bucket", "bucket", {}))
    with pytest.raises(ValueError, match="aws:s3/bucket:Bucket"):
        replay(program.resources)


def test_objects_with_fields_beside_spec_are_registered_whole() -> None:
    def program() -> None:
        RawObject(
            "batch",
            {
                "apiVersion": "kueue.x-k8s.io/v1beta2",
                "kind": "WorkloadPriorityClass",
                "metadata": {"name": "batch"},
                "value": 100,
                "description": "Research",
            },
            pulumi.ResourceOptions(),
        )

    original = record(program).resources
    assert class_for(original[0]) is RawObject
    copy = record(replay(original)).resources
    assert [(r.type, r.name, r.inputs) for r in copy] == [(r.type, r.name, r.inputs) for r in original]
    assert copy[0].inputs["value"] == 100
