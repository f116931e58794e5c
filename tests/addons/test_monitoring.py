"""Monitoring: kube-prometheus-stack values, monitor selection, mesh scraping, dashboards."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.addons.monitoring import (
    DASHBOARD_DIR,
    ISTIO_MTLS_SCRAPE_CLASS,
    PROMETHEUS_PRINCIPAL,
    PROMETHEUS_SERVICE_ACCOUNT,
)
from components.names import (
    GRAFANA_DASHBOARD_LABEL,
    KUBERAY_NAMESPACE,
    KUEUE_NAMESPACE,
    MONITOR_LABELS,
    MONITORING_NAMESPACE,
    PROMETHEUS_RELEASE,
)
from tests.addons.conftest import RecordedAddons, ints, platform, record_addons

MONITOR_TYPES = ("ServiceMonitor", "PodMonitor", "PrometheusRule")


@pytest.fixture(scope="module")
def recorded() -> RecordedAddons:
    return record_addons(platform({"monitoring": {"retention": "30d"}}))


def _stack(recorded: RecordedAddons) -> dict[str, Any]:
    return ints(recorded.chart("platform-monitoring-stack").inputs["values"])


def _monitors(recorded: RecordedAddons) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: ints(r.inputs) for r in recorded.custom_resources()
            if r.type.split(":")[-1] in MONITOR_TYPES}


def test_prometheus_selects_release_labelled_monitors_explicitly_in_all_namespaces(recorded: RecordedAddons) -> None:
    spec = _stack(recorded)["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}Selector"] == {"matchLabels": MONITOR_LABELS}
        assert spec[f"{kind}NamespaceSelector"] == {}
    assert spec["retention"] == "30d"
    assert recorded.chart("platform-monitoring-stack").inputs["name"] == PROMETHEUS_RELEASE


def test_every_monitor_carries_the_selected_label_and_waits_for_the_monitoring_chart(recorded: RecordedAddons) -> None:
    chart = recorded.chart("platform-monitoring-stack")
    found = [r for r in recorded.custom_resources() if r.type.split(":")[-1] in MONITOR_TYPES]
    assert {r.inputs["metadata"]["name"] for r in found} == {
        "dcgm-exporter", "gpu", "kuberay-operator", "ray", "kueue", "kserve-controller",
    }
    for registration in found:
        assert registration.inputs["metadata"]["labels"]["release"] == MONITOR_LABELS["release"]
        assert registration.inputs["metadata"]["namespace"] == MONITORING_NAMESPACE
        assert registration.dependencies == (chart.urn,)


def test_hooks_dependent_webhook_and_its_tls_are_off(recorded: RecordedAddons) -> None:
    operator = _stack(recorded)["prometheusOperator"]
    assert operator == {"admissionWebhooks": {"enabled": False}, "tls": {"enabled": False}}
    assert _stack(recorded)["crds"] == {"enabled": True}


def test_unscrapeable_control_plane_targets_are_off(recorded: RecordedAddons) -> None:
    values = _stack(recorded)
    for target in ("kubeControllerManager", "kubeScheduler", "kubeEtcd", "kubeProxy"):
        assert values[target] == {"enabled": False}


def test_grafana_loads_dashboards_labelled_for_its_sidecar(recorded: RecordedAddons) -> None:
    sidecar = _stack(recorded)["grafana"]["sidecar"]["dashboards"]
    assert (sidecar["enabled"], sidecar["label"], sidecar["labelValue"]) == (True, GRAFANA_DASHBOARD_LABEL, "1")
    maps = {r.name: r.inputs for r in recorded.recording.of_type("kubernetes:core/v1:ConfigMap")}
    assert set(maps) == {f"platform-monitoring-dashboard-{name}" for name in ("gpu", "ray", "kserve", "kueue")}
    for name, inputs in maps.items():
        assert inputs["metadata"]["labels"][GRAFANA_DASHBOARD_LABEL] == "1"
        assert inputs["metadata"]["namespace"] == MONITORING_NAMESPACE
        (file_name, content), = inputs["data"].items()
        assert content == (DASHBOARD_DIR / file_name).read_text(encoding="utf-8"), name


def test_without_grafana_no_dashboards_and_grafana_off() -> None:
    recorded = record_addons(platform({"monitoring": {"grafana": False}}))
    assert _stack(recorded)["grafana"] == {"enabled": False}
    assert not recorded.recording.of_type("kubernetes:core/v1:ConfigMap")


def test_with_istio_prometheus_joins_the_mesh_as_a_certificate_holder_only(recorded: RecordedAddons) -> None:
    spec = _stack(recorded)["prometheus"]["prometheusSpec"]
    metadata = spec["podMetadata"]
    assert metadata["labels"] == {"sidecar.istio.io/inject": "true"}
    annotations = metadata["annotations"]
    assert annotations["traffic.sidecar.istio.io/includeInboundPorts"] == ""
    assert annotations["traffic.sidecar.istio.io/includeOutboundIPRanges"] == ""
    output = yaml.safe_load(annotations["proxy.istio.io/config"])["proxyMetadata"]["OUTPUT_CERTS"]
    (mount,) = json.loads(annotations["sidecar.istio.io/userVolumeMount"])
    assert mount == {"name": "istio-certs", "mountPath": output}
    assert spec["volumes"] == [{"name": "istio-certs", "emptyDir": {"medium": "Memory"}}]
    (prometheus_mount,) = spec["volumeMounts"]
    (scrape_class,) = spec["scrapeClasses"]
    assert scrape_class["name"] == ISTIO_MTLS_SCRAPE_CLASS
    for key in ("caFile", "certFile", "keyFile"):
        assert scrape_class["tlsConfig"][key].startswith(prometheus_mount["mountPath"] + "/")
    assert _stack(recorded)["prometheus"]["serviceAccount"]["name"] == PROMETHEUS_SERVICE_ACCOUNT
    assert f"cluster.local/ns/{MONITORING_NAMESPACE}/sa/{PROMETHEUS_SERVICE_ACCOUNT}" == PROMETHEUS_PRINCIPAL


def test_only_in_mesh_targets_use_the_mtls_scrape_class(recorded: RecordedAddons) -> None:
    monitors = _monitors(recorded)
    assert ISTIO_MTLS_SCRAPE_CLASS  # the model services' monitors use it (tests/workloads)
    for name in ("dcgm-exporter", "ray", "kuberay-operator", "kueue", "kserve-controller"):
        assert "scrapeClass" not in monitors[name]["spec"], name


def test_without_istio_prometheus_stays_out_of_the_mesh_and_scrapes_plainly() -> None:
    recorded = record_addons(platform({"istio": {"enabled": False}}))
    spec = _stack(recorded)["prometheus"]["prometheusSpec"]
    assert not {"podMetadata", "volumes", "volumeMounts", "scrapeClasses"} & set(spec)
    assert all("scrapeClass" not in monitor["spec"] for monitor in _monitors(recorded).values())
    assert recorded.chart("platform-monitoring-stack").dependencies == (
        recorded.one("kubernetes:core/v1:Namespace", "platform-monitoring-namespace").urn,)


def test_ray_pods_are_scraped_on_the_metrics_port_kuberay_adds(recorded: RecordedAddons) -> None:
    ray = _monitors(recorded)["ray"]["spec"]
    assert ray["namespaceSelector"] == {"any": True}
    assert ray["selector"]["matchExpressions"] == [
        {"key": "ray.io/node-type", "operator": "In", "values": ["head", "worker"]}]
    endpoint = ray["podMetricsEndpoints"][0]
    assert endpoint["port"] == "metrics"  # KubeRay names the 8080 port "metrics" on head and workers
    assert endpoint["relabelings"][0]["targetLabel"] == "ray_io_cluster"


def test_controllers_are_scraped_in_their_namespaces(recorded: RecordedAddons) -> None:
    monitors = _monitors(recorded)
    assert monitors["kuberay-operator"]["spec"]["namespaceSelector"] == {"matchNames": [KUBERAY_NAMESPACE]}
    kueue = monitors["kueue"]["spec"]
    assert kueue["namespaceSelector"] == {"matchNames": [KUEUE_NAMESPACE]}
    assert kueue["selector"]["matchLabels"]["app.kubernetes.io/component"] == "metrics-service"
    assert kueue["endpoints"][0]["scheme"] == "https"
    assert kueue["endpoints"][0]["bearerTokenFile"].endswith("/serviceaccount/token")


def test_controller_monitors_need_the_addon_installed_here_workload_monitors_only_present() -> None:
    recorded = record_addons(platform(preinstalled=frozenset({"kuberay", "kserve", "kueue"})))
    assert set(_monitors(recorded)) == {"dcgm-exporter", "gpu", "ray"}
    maps = {r.name for r in recorded.recording.of_type("kubernetes:core/v1:ConfigMap")}
    assert maps == {f"platform-monitoring-dashboard-{name}" for name in ("gpu", "ray", "kserve", "kueue")}


def test_gpu_rules_record_what_the_dashboards_and_alerts_need(recorded: RecordedAddons) -> None:
    groups = _monitors(recorded)["gpu"]["spec"]["groups"]
    rules = {rule.get("record") or rule.get("alert"): rule for group in groups for rule in group["rules"]}
    assert "DCGM_FI_DEV_GPU_UTIL" in rules["namespace:dcgm_gpu_utilization:avg"]["expr"]
    assert rules["DcgmExporterDown"]["expr"] == f'up{{job="{MONITORING_NAMESPACE}/dcgm-exporter"}} == 0'
