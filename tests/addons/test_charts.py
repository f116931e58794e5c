"""The chart table: pinned versions, where each chart comes from, and what every recorded Chart gets."""

from __future__ import annotations

import pytest

from components.addons.charts import CHARTS, ChartSource
from components.names import (
    CERT_MANAGER_NAMESPACE,
    GPU_NAMESPACE,
    INGRESS_NAMESPACE,
    INGRESS_RELEASE,
    ISTIO_NAMESPACE,
    KSERVE_NAMESPACE,
    KUBERAY_NAMESPACE,
    KUEUE_NAMESPACE,
    MONITORING_NAMESPACE,
    PROMETHEUS_RELEASE,
)
from tests.addons.conftest import CHART_TYPE, ROOT, platform, record_addons
from tests.support.reference import reference_dir

ISTIO = "https://istio-release.storage.googleapis.com/charts"
# The versions of ../shared/reference/README.md, restated so that a change to the table is a reviewed diff.
PINNED = {
    "nvidia-device-plugin": ("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "0.20.0"),
    "gpu-operator": ("gpu-operator", "https://helm.ngc.nvidia.com/nvidia", "v26.7.0"),
    "dcgm-exporter": ("dcgm-exporter", "https://nvidia.github.io/dcgm-exporter/helm-charts", "4.8.2"),
    "kuberay-operator": ("kuberay-operator", "https://ray-project.github.io/kuberay-helm/", "1.7.0"),
    "kueue": ("oci://registry.k8s.io/kueue/charts/kueue", None, "0.19.2"),
    "cert-manager": ("oci://quay.io/jetstack/charts/cert-manager", None, "v1.21.1"),
    "kserve-crd": ("oci://ghcr.io/kserve/charts/kserve-crd", None, "v0.20.0"),
    "kserve-resources": ("oci://ghcr.io/kserve/charts/kserve-resources", None, "v0.20.0"),
    "kserve-runtime-configs": ("oci://ghcr.io/kserve/charts/kserve-runtime-configs", None, "v0.20.0"),
    "kube-prometheus-stack": ("oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack", None, "88.5.3"),
    "base": ("base", ISTIO, "1.30.3"),
    "istiod": ("istiod", ISTIO, "1.30.3"),
    "gateway": ("gateway", ISTIO, "1.30.3"),
}
# Recorded chart resource -> (table key, release name, namespace).
RELEASES = {
    "platform-gpu-device-plugin": ("nvidia-device-plugin", "nvidia-device-plugin", GPU_NAMESPACE),
    "platform-gpu-dcgm-exporter": ("dcgm-exporter", "dcgm-exporter", GPU_NAMESPACE),
    "platform-kuberay-operator": ("kuberay-operator", "kuberay-operator", KUBERAY_NAMESPACE),
    "platform-kueue-controller": ("kueue", "kueue", KUEUE_NAMESPACE),
    "platform-cert-manager-chart": ("cert-manager", "cert-manager", CERT_MANAGER_NAMESPACE),
    "platform-kserve-crd": ("kserve-crd", "kserve-crd", KSERVE_NAMESPACE),
    "platform-kserve-resources": ("kserve-resources", "kserve", KSERVE_NAMESPACE),
    "platform-kserve-runtime-configs": ("kserve-runtime-configs", "kserve-runtime-configs", KSERVE_NAMESPACE),
    "platform-monitoring-stack": ("kube-prometheus-stack", PROMETHEUS_RELEASE, MONITORING_NAMESPACE),
    "platform-istio-base": ("base", "istio-base", ISTIO_NAMESPACE),
    "platform-istio-istiod": ("istiod", "istiod", ISTIO_NAMESPACE),
    "platform-istio-ingress-gateway": ("gateway", INGRESS_RELEASE, INGRESS_NAMESPACE),
}


def test_the_table_pins_every_chart_to_the_reference_version_and_source() -> None:
    assert {key: (source.chart, source.repository, source.version) for key, source in CHARTS.items()} == PINNED


@pytest.mark.parametrize("key", sorted(PINNED))
def test_reference_values_exist_for_every_pinned_chart(key: str) -> None:
    source = CHARTS[key]
    assert (reference_dir() / "chart-values" / source.name / source.version / "values.yaml").is_file()


def test_oci_charts_have_no_repository_and_repository_charts_a_plain_name() -> None:
    for source in CHARTS.values():
        if source.chart.startswith("oci://"):
            assert source.repository is None
        else:
            assert source.repository and source.repository.startswith("https://") and "/" not in source.chart


def test_override_replaces_only_the_version() -> None:
    source = ChartSource("oci://example/charts/x", "1.0.0")
    assert source.at(None) is source
    assert source.at("1.1.0") == ChartSource("oci://example/charts/x", "1.1.0")
    assert source.name == "x"


def test_each_recorded_chart_comes_from_its_pinned_source_with_its_release_name_and_namespace() -> None:
    recorded = record_addons(platform())
    device_plugin_mode = recorded.charts()
    operator_mode = record_addons(platform({"gpu": {"mode": "gpu-operator"}})).charts()
    charts = {**device_plugin_mode, "platform-gpu-gpu-operator": operator_mode["platform-gpu-gpu-operator"]}
    releases = {**RELEASES, "platform-gpu-gpu-operator": ("gpu-operator", "gpu-operator", GPU_NAMESPACE)}
    assert set(charts) == set(releases)
    for name, (key, release, namespace) in releases.items():
        inputs = charts[name].inputs
        chart, repository, version = PINNED[key]
        assert inputs["chart"] == chart, name
        assert inputs["version"] == version, name
        assert inputs.get("repositoryOpts") == ({"repo": repository} if repository else None), name
        assert inputs["name"] == release, name
        assert inputs["namespace"] == namespace, name
        assert inputs["skipCrds"] is False, name  # crds/ are rendered and applied (and upgraded) as objects


def test_spec_versions_override_each_addons_charts_and_nothing_else() -> None:
    recorded = record_addons(platform({
        "gpu": {"version": "0.21.0", "dcgm_exporter_version": "4.9.0"},
        "kuberay": {"version": "1.8.0"},
        "kueue": {"version": "0.20.0"},
        "cert_manager": {"version": "v1.22.0"},
        "kserve": {"version": "v0.21.0"},
        "monitoring": {"version": "89.0.0"},
        "istio": {"version": "1.31.0"},
    }))
    versions = {name: chart.inputs["version"] for name, chart in recorded.charts().items()}
    assert versions == {
        "platform-gpu-device-plugin": "0.21.0",
        "platform-gpu-dcgm-exporter": "4.9.0",
        "platform-kuberay-operator": "1.8.0",
        "platform-kueue-controller": "0.20.0",
        "platform-cert-manager-chart": "v1.22.0",
        "platform-kserve-crd": "v0.21.0",
        "platform-kserve-resources": "v0.21.0",
        "platform-kserve-runtime-configs": "v0.21.0",
        "platform-monitoring-stack": "89.0.0",
        "platform-istio-base": "1.31.0",
        "platform-istio-istiod": "1.31.0",
        "platform-istio-ingress-gateway": "1.31.0",
    }
    operator = record_addons(platform({"gpu": {"mode": "gpu-operator", "version": "v26.8.0"}}))
    assert operator.chart("platform-gpu-gpu-operator").inputs["version"] == "v26.8.0"
    assert len(operator.recording.of_type(CHART_TYPE)) == len(RELEASES) - 1  # operator replaces plugin + DCGM


def test_the_addons_readme_names_every_chart_at_its_pinned_version() -> None:
    readme = (ROOT / "components" / "addons" / "README.md").read_text(encoding="utf-8")
    for source in CHARTS.values():
        assert f"`{source.name}`" in readme, source.name
        assert source.version in readme, (source.name, source.version)
