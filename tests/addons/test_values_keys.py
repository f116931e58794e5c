"""Every values key the stack sets exists in the pinned chart's values (see chart_values.py for the rules)."""

from __future__ import annotations

from typing import Any

import pytest

from components.addons.charts import CHARTS
from tests.addons.chart_values import ChartReference, load_reference, unknown_keys
from tests.addons.conftest import GPU_POOL, SYSTEM_POOL, ints, platform, record_addons
from tests.support.reference import reference_dir

SHARED_POOLS = {
    "system": SYSTEM_POOL,
    "gpu-a": GPU_POOL,
    "gpu-mig": {**GPU_POOL, "mig_strategy": "mixed"},
    "gpu-shared": {**GPU_POOL, "time_slicing_replicas": 4},
}
# Spec variants that between them make every value-building branch run.
VARIANTS = {
    "defaults": ({}, None),
    "gpu-operator+sharing": ({"gpu": {"mode": "gpu-operator"}}, SHARED_POOLS),
    "device-plugin+sharing": ({}, SHARED_POOLS),
    "knative+no-grafana": ({"kserve": {"deployment_mode": "Knative"}, "monitoring": {"grafana": False}}, None),
    "no-istio": ({"istio": {"enabled": False}}, None),
    "protected-crds": ({"protect_crds": True}, None),
}


def _reference(chart: str, version: str) -> ChartReference:
    return load_reference(reference_dir(), chart, version)


def _recorded_values() -> list[tuple[str, str, str, dict[str, Any]]]:
    found = []
    for variant, (addons, pools) in VARIANTS.items():
        for name, chart in record_addons(platform(addons, pools)).charts().items():
            chart_name = chart.inputs["chart"].rsplit("/", 1)[-1]
            values = ints(chart.inputs.get("values", {}))
            found.append((f"{variant}:{name}", chart_name, chart.inputs["version"], values))
    return found


RECORDED = _recorded_values()


@pytest.mark.parametrize(("case", "chart", "version", "values"), RECORDED, ids=[case for case, *_ in RECORDED])
def test_every_values_key_is_known_to_the_pinned_chart(case: str, chart: str, version: str,
                                                       values: dict[str, Any]) -> None:
    assert unknown_keys(_reference(chart, version), values) == []


def test_every_chart_in_the_table_was_checked() -> None:
    assert {chart for _, chart, _, _ in RECORDED} == {source.name for source in CHARTS.values()}


@pytest.mark.parametrize(("chart", "values", "expected"), [
    ("istiod", {"pilot": {"resources": {}}}, ["pilot: not a key of istiod's values.yaml or values.schema.json"]),
    ("istiod", {"autoscaleMin": 2, "global": {"proxy": {"resources": {}}}}, []),
    ("kserve-resources", {"kserve": {"deploymentMode": "Standard"}},
     ["kserve.deploymentMode: not a key of kserve-resources's values.yaml or values.schema.json"]),
    ("kube-prometheus-stack", {"grafana": {"anything": {"goes": 1}}, "prometheus": {"prometheusSpec": {"podMetadata": {
        "labels": {"a": "b"}}}}}, []),
    ("kube-prometheus-stack", {"prometheus": {"prometheusSpec": {"retention": {"time": "1d"}}}},
     ["prometheus.prometheusSpec.retention: a map where the chart's default is '10d'"]),
    ("nvidia-device-plugin", {"migStrategy": "single", "config": {"map": {"default": "x"}}}, []),
])
def test_the_checker_reports_unknown_keys_with_their_path(chart: str, values: dict[str, Any],
                                                          expected: list[str]) -> None:
    source = next(source for source in CHARTS.values() if source.name == chart)
    assert unknown_keys(_reference(chart, source.version), values) == expected


def test_the_checker_applies_closed_values_schemas() -> None:
    reference = _reference("cert-manager", CHARTS["cert-manager"].version)
    problems = unknown_keys(reference, {"crds": {"enabled": True, "keepp": True}})
    assert problems[0] == "crds.keepp: not a key of cert-manager's values.yaml or values.schema.json"
    assert any("keepp" in problem and "values.schema.json" in problem for problem in problems[1:])
    gateway = _reference("gateway", CHARTS["gateway"].version)
    assert unknown_keys(gateway, {"service": {"annotations": {"a": "b"}}, "labels": {"istio": "ingressgateway"}}) == []
