"""GPU support: the chart values per mode, per-pool sharing, and the GPU monitoring contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.addons.gpu import (
    DCGM_EXPORTER_POD_LABELS,
    DEVICE_PLUGIN_CONFIG_LABEL,
    GPU_TOLERATION,
    GpuSupportArgs,
    device_plugin_config_labels,
    gpu_pools,
    sharing_configs,
)
from components.addons.monitoring import DASHBOARD_DIR
from components.names import GPU_NAMESPACE, GRAFANA_DASHBOARD_LABEL, MONITOR_LABELS, MONITORING_NAMESPACE, POOL_LABEL
from components.spec.models import NodePool
from tests.addons.conftest import GPU_POOL, SYSTEM_POOL, RecordedAddons, ints, platform, record_addons

POOLS = {
    "system": SYSTEM_POOL,
    "l4": GPU_POOL,
    "h100-mig": {**GPU_POOL, "mig_strategy": "mixed"},
    "t4-shared": {**GPU_POOL, "time_slicing_replicas": 4},
}
GPU_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": POOL_LABEL, "operator": "In", "values": ["h100-mig", "l4", "t4-shared"]}]},
]}}}


def _values(recorded: RecordedAddons, chart: str) -> dict[str, Any]:
    return ints(recorded.chart(chart).inputs["values"])


def _configs(raw: dict[str, str]) -> dict[str, Any]:
    return {name: yaml.safe_load(text) for name, text in raw.items()}


def test_gpu_pools_are_the_pools_with_gpus() -> None:
    assert list(gpu_pools(platform(node_pools=POOLS).spec)) == ["h100-mig", "l4", "t4-shared"]


def test_device_plugin_mode_installs_plugin_with_gfd_and_dcgm_exporter_on_the_gpu_pools_only() -> None:
    recorded = record_addons(platform(node_pools=POOLS))
    plugin = _values(recorded, "platform-gpu-device-plugin")
    assert plugin["gfd"] == {"enabled": True}
    assert plugin["affinity"] == GPU_AFFINITY
    assert GPU_TOLERATION in plugin["tolerations"]
    assert GPU_TOLERATION in plugin["nfd"]["worker"]["tolerations"]  # NFD must label the tainted GPU nodes
    dcgm = _values(recorded, "platform-gpu-dcgm-exporter")
    assert dcgm == {"serviceMonitor": {"enabled": False}, "affinity": GPU_AFFINITY, "tolerations": [GPU_TOLERATION]}
    assert "platform-gpu-gpu-operator" not in recorded.charts()


def test_per_pool_mig_and_time_slicing_become_named_device_plugin_configs() -> None:
    plugin = _values(record_addons(platform(node_pools=POOLS)), "platform-gpu-device-plugin")
    assert plugin["config"]["default"] == "default"
    assert _configs(plugin["config"]["map"]) == {
        "default": {"version": "v1", "flags": {"migStrategy": "none"}},
        "h100-mig": {"version": "v1", "flags": {"migStrategy": "mixed"}},
        "l4": {"version": "v1", "flags": {"migStrategy": "none"}},
        "t4-shared": {"version": "v1", "flags": {"migStrategy": "none"}, "sharing": {"timeSlicing": {
            "failRequestsGreaterThanOne": True, "resources": [{"name": "nvidia.com/gpu", "replicas": 4}],
        }}},
    }


def test_each_gpu_pool_is_told_the_node_label_that_selects_its_config() -> None:
    pools = {name: NodePool.model_validate(pool) for name, pool in POOLS.items() if name != "system"}
    assert device_plugin_config_labels(pools) == {
        name: {DEVICE_PLUGIN_CONFIG_LABEL: name} for name in ("h100-mig", "l4", "t4-shared")
    }
    assert set(sharing_configs(pools)) - {"default"} == set(device_plugin_config_labels(pools))


def test_without_mig_or_sharing_the_plugin_runs_without_configs() -> None:
    plugin = _values(record_addons(platform()), "platform-gpu-device-plugin")
    assert "config" not in plugin
    assert device_plugin_config_labels({"gpu-a": NodePool.model_validate(GPU_POOL)}) == {}


def test_gpu_operator_mode_keeps_the_node_image_driver_and_toolkit_and_carries_the_sharing_configs() -> None:
    recorded = record_addons(platform({"gpu": {"mode": "gpu-operator"}}, POOLS))
    assert [name for name in recorded.charts() if name.startswith("platform-gpu")] == ["platform-gpu-gpu-operator"]
    values = _values(recorded, "platform-gpu-gpu-operator")
    assert values["driver"] == {"enabled": False}
    assert values["toolkit"] == {"enabled": False}
    assert values["dcgmExporter"] == {"enabled": True, "serviceMonitor": {"enabled": False}}
    config = values["devicePlugin"]["config"]
    assert (config["create"], config["default"]) == (True, "default")
    assert _configs(config["data"])["t4-shared"]["sharing"]["timeSlicing"]["resources"][0]["replicas"] == 4
    assert recorded.ready_names()["gpu"] == ["platform-gpu-gpu-operator"]


def test_gpu_support_args_refuse_an_empty_pool_set() -> None:
    with pytest.raises(ValueError, match="at least one GPU pool"):
        GpuSupportArgs(mode="device-plugin", gpu_pools={})


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("mode", ["device-plugin", "gpu-operator"])
def test_dcgm_metrics_reach_prometheus_and_the_gpu_dashboard_whenever_there_is_a_gpu_pool(mode: str) -> None:
    recorded = record_addons(platform({"gpu": {"mode": mode}}))
    monitor = ints(recorded.one("kubernetes:monitoring.coreos.com/v1:PodMonitor",
                                "platform-monitoring-dcgm-exporter").inputs)
    prometheus = _values(recorded, "platform-monitoring-stack")["prometheus"]["prometheusSpec"]
    # Prometheus selects the monitor ...
    assert _selects(prometheus["podMonitorSelector"], monitor["metadata"]["labels"])
    assert monitor["metadata"]["labels"]["release"] == MONITOR_LABELS["release"]
    assert prometheus["podMonitorNamespaceSelector"] == {}
    # ... and the monitor selects the exporter pods of this mode, in their namespace, on their port.
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [GPU_NAMESPACE]}
    assert monitor["spec"]["selector"] == {"matchLabels": dict(DCGM_EXPORTER_POD_LABELS[mode])}
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    # The GPU dashboard ships to Grafana.
    dashboard = recorded.one("kubernetes:core/v1:ConfigMap", "platform-monitoring-dashboard-gpu").inputs
    assert dashboard["metadata"]["namespace"] == MONITORING_NAMESPACE
    assert dashboard["metadata"]["labels"][GRAFANA_DASHBOARD_LABEL] == "1"
    assert json.loads(dashboard["data"]["gpu.json"]) == json.loads((DASHBOARD_DIR / "gpu.json").read_text())
    # Prometheus never waits for GPU support, nor GPU support for Prometheus.
    monitoring_chart = recorded.chart("platform-monitoring-stack")
    for chart in recorded.ready_names()["gpu"]:
        assert recorded.chart(chart).urn not in monitoring_chart.dependencies
        assert monitoring_chart.urn not in recorded.chart(chart).dependencies


def test_dcgm_relabelling_yields_the_labels_the_gpu_dashboard_groups_by() -> None:
    recorded = record_addons(platform())
    endpoint = recorded.one("kubernetes:monitoring.coreos.com/v1:PodMonitor",
                            "platform-monitoring-dcgm-exporter").inputs["spec"]["podMetricsEndpoints"][0]
    assert endpoint["honorLabels"] is False  # exporter's namespace/pod arrive as exported_*
    assert {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"} in \
        endpoint["relabelings"]
    assert [rule["action"] for rule in endpoint["metricRelabelings"]] == ["labeldrop", "labelmap", "labeldrop"]
    assert endpoint["metricRelabelings"][1]["regex"] == "exported_(namespace|pod|container)"


def test_no_dcgm_monitor_or_gpu_dashboard_when_gpu_support_is_not_installed_here() -> None:
    for recorded in (record_addons(platform({"gpu": {"enabled": False}})),
                     record_addons(platform(preinstalled=frozenset({"gpu"})))):
        names = {r.name for r in recorded.recording.resources}
        assert "platform-monitoring-dcgm-exporter" not in names
        assert "platform-monitoring-gpu-rules" not in names
        assert "platform-monitoring-dashboard-gpu" not in names
