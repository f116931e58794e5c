"""Grafana dashboards shipped from dashboards/*.json: well-formed, on the datasource variable, and the GPU
dashboard showing DCGM utilisation and memory per node, per pod and per team (namespace)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.addons.monitoring import DASHBOARD_DIR, DASHBOARDS

FILES = sorted(DASHBOARD_DIR.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in dashboard["panels"] if panel["type"] != "row"]


def _exprs(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in _panels(dashboard) for target in panel["targets"]]


def test_every_dashboard_file_is_shipped_by_the_monitoring_addon_and_vice_versa() -> None:
    assert {path.stem for path in FILES} == set(DASHBOARDS)


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_dashboard_is_well_formed_and_queries_the_selected_datasource(path: Path) -> None:
    dashboard = _load(path)
    assert dashboard["uid"] == f"gpuplat-{path.stem}"
    assert dashboard["title"] and dashboard["schemaVersion"] >= 36
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(dashboard):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
    used = set(re.findall(r"\$(\w+)", " ".join(_exprs(dashboard))))
    assert used <= set(variables), used - set(variables)


def test_gpu_dashboard_shows_dcgm_utilisation_and_memory_per_node_pod_and_team() -> None:
    exprs = _exprs(_load(DASHBOARD_DIR / "gpu.json"))

    def grouped(metric: str, labels: str) -> bool:
        return any(metric in expr and f"by ({labels})" in expr for expr in exprs)

    assert grouped("DCGM_FI_DEV_GPU_UTIL", "node")
    assert grouped("DCGM_FI_DEV_GPU_UTIL", "namespace, pod")
    assert grouped("DCGM_FI_DEV_GPU_UTIL", "namespace")
    assert grouped("DCGM_FI_DEV_FB_USED", "node")
    assert grouped("DCGM_FI_DEV_FB_USED", "namespace, pod")
    assert grouped("DCGM_FI_DEV_FB_USED", "namespace")


def test_gpu_dashboard_only_groups_by_labels_the_dcgm_monitor_produces() -> None:
    produced = {"node", "namespace", "pod", "container", "gpu", "modelName", "UUID", "Hostname"}
    groupings = re.findall(r"by \(([^)]*)\)", " ".join(_exprs(_load(DASHBOARD_DIR / "gpu.json"))))
    labels = {label.strip() for grouping in groupings for label in grouping.split(",")}
    assert labels <= produced, labels - produced


@pytest.mark.parametrize(("name", "metrics"), [
    ("ray", ["ray_node_gpus_utilization", "ray_tasks", "ray_io_cluster"]),
    ("kserve", ["request_predict_seconds", "vllm:num_requests_running", "inferenceservice"]),
    ("kueue", ["kueue_pending_workloads", "kueue_admitted_active_workloads", "kueue_cluster_queue_resource_usage"]),
])
def test_component_dashboards_show_their_addons_metrics(name: str, metrics: list[str]) -> None:
    text = " ".join(_exprs(_load(DASHBOARD_DIR / f"{name}.json")))
    for metric in metrics:
        assert metric in text, metric
