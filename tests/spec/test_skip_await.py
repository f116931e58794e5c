"""The skip-await transform: every Kubernetes object, and nothing else, gets the two annotations."""

from types import SimpleNamespace

from components.skip_await import ANNOTATIONS, annotate_for_bare_api_server


def _args(type_: str, props: dict, custom: bool = True) -> SimpleNamespace:
    return SimpleNamespace(type_=type_, props=props, opts=None, custom=custom)


def test_kubernetes_objects_get_skip_await_and_background_deletion() -> None:
    result = annotate_for_bare_api_server(_args(
        "kubernetes:core/v1:ResourceQuota", {"metadata": {"name": "ml", "annotations": {"a": "b"}}, "spec": {}}))
    assert result.props["metadata"] == {"name": "ml", "annotations": {"a": "b", **ANNOTATIONS}}
    assert ANNOTATIONS == {"pulumi.com/skipAwait": "true", "pulumi.com/deletionPropagationPolicy": "background"}


def test_providers_components_and_other_clouds_are_left_alone() -> None:
    assert annotate_for_bare_api_server(_args("pulumi:providers:kubernetes", {})) is None
    assert annotate_for_bare_api_server(_args("gpuplat:teams:Team", {}, custom=False)) is None
    assert annotate_for_bare_api_server(_args("aws:eks/cluster:Cluster", {"name": "x"})) is None
