"""CRDs: protected and retained in environments with `protect_crds`, applied server-side everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pulumi
import pytest
import yaml

from components.addons.crds import CRD_TYPE, crd_protection, protect_custom_resource_definitions
from tests.addons.conftest import ROOT, RecordingCallbacks, platform, record_addons, stack_platform


def _transform_args(type_: str) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(custom=True, type_=type_, name="platform-kueue-controller:x",
                                        props={"metadata": {"name": "clusterqueues.kueue.x-k8s.io"}},
                                        opts=pulumi.ResourceOptions())


def test_the_transform_protects_and_retains_crds() -> None:
    result = protect_custom_resource_definitions(_transform_args(CRD_TYPE))
    assert result is not None
    assert result.opts is not None and result.opts.protect is True and result.opts.retain_on_delete is True
    assert result.props == {"metadata": {"name": "clusterqueues.kueue.x-k8s.io"}}


@pytest.mark.parametrize("type_", ["kubernetes:apps/v1:Deployment", "kubernetes:core/v1:ConfigMap",
                                   "kubernetes:kueue.x-k8s.io/v1beta2:ClusterQueue"])
def test_the_transform_leaves_every_other_object_alone(type_: str) -> None:
    assert protect_custom_resource_definitions(_transform_args(type_)) is None


@pytest.mark.parametrize("protect", [True, False])
def test_every_chart_gets_the_crd_transform_exactly_when_the_spec_protects_crds(
    chart_options: dict[str, pulumi.ResourceOptions], protect: bool,
) -> None:
    callbacks = RecordingCallbacks()
    recorded = record_addons(platform({"protect_crds": protect}), callbacks=callbacks)
    assert set(chart_options) == set(recorded.charts())
    for name, options in chart_options.items():
        assert options.transforms == ([protect_custom_resource_definitions] if protect else []), name
    assert callbacks.transforms == [protect_custom_resource_definitions] * (len(chart_options) if protect else 0)
    # protect on the chart itself would be inherited by every object it renders: not used.
    assert not any(chart.protect for chart in recorded.charts().values())


def test_plain_mocks_without_a_callback_server_still_record_the_protected_prod_stack() -> None:
    assert crd_protection(True) == []  # no engine, no callback server here
    recorded = record_addons(stack_platform("prod"))
    assert stack_platform("prod").spec.addons.protect_crds is True
    assert recorded.charts()


def test_nothing_turns_server_side_apply_off() -> None:
    """kube-prometheus-stack's CRDs exceed client-side apply's annotation limit; SSA is the provider default."""
    for path in sorted(ROOT.glob("Pulumi*.yaml")):
        config = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
        assert str(config.get("kubernetes:enableServerSideApply", True)).lower() != "false", path.name
    pattern = re.compile(r"enable_server_side_apply\s*=\s*False"
                         r"|[\"']enableServerSideApply[\"']\s*:\s*(False|[\"']false[\"'])")
    offenders = [str(path.relative_to(ROOT)) for path in _python_sources(ROOT) if pattern.search(path.read_text())]
    assert offenders == []


def _python_sources(root: Path) -> list[Path]:
    return [path for path in (*root.glob("components/**/*.py"), root / "__main__.py") if path.is_file()]
