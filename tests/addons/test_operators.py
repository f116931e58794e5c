"""KubeRay, Kueue, cert-manager and KServe: the values that matter and the edges inside each add-on."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.addons import kserve as kserve_module
from components.addons.kueue import KUEUE_INTEGRATIONS, manager_config
from components.names import GATEWAY_REF, model_host
from tests.addons.conftest import RecordedAddons, ints, platform, record_addons


@pytest.fixture(scope="module")
def recorded() -> RecordedAddons:
    return record_addons(platform({"kueue": {"pods_ready_timeout_seconds": 900}, "istio": {"domain": "ml.test"}}))


def _values(recorded: RecordedAddons, chart: str) -> dict[str, Any]:
    return ints(recorded.chart(chart).inputs["values"])


def test_kuberay_chart_side_monitor_is_off_and_metrics_on(recorded: RecordedAddons) -> None:
    values = _values(recorded, "platform-kuberay-operator")
    assert values["metrics"] == {"enabled": True, "serviceMonitor": {"enabled": False}}
    assert values["batchScheduler"] == {"enabled": False}


def test_kueue_manager_config_is_yaml_built_from_data_with_ray_integrations_and_pods_ready(
    recorded: RecordedAddons,
) -> None:
    values = _values(recorded, "platform-kueue-controller")
    text = values["managerConfig"]["controllerManagerConfigYaml"]
    assert isinstance(text, str)
    config = yaml.safe_load(text)
    assert config == manager_config(900)
    assert (config["apiVersion"], config["kind"]) == ("config.kueue.x-k8s.io/v1beta2", "Configuration")
    assert {"ray.io/rayjob", "ray.io/raycluster", "ray.io/rayservice"} <= set(config["integrations"]["frameworks"])
    assert config["integrations"]["frameworks"] == list(KUEUE_INTEGRATIONS)
    assert "pod" not in config["integrations"]["frameworks"]  # no webhook in front of every pod
    assert config["waitForPodsReady"]["timeout"] == "900s"
    assert config["waitForPodsReady"]["blockAdmission"] is False
    assert config["waitForPodsReady"]["requeuingStrategy"]["timestamp"] == "Eviction"
    assert config["metrics"]["enableClusterQueueResources"] is True
    assert values["enablePrometheus"] is False
    assert values["enableCertManager"] is False  # Kueue manages its own webhook certificate


def test_kueue_config_survives_awkward_values_unquoted() -> None:
    # Data, not string templating: the timeout is one YAML scalar whatever its value.
    assert yaml.safe_load(yaml.safe_dump(manager_config(1)))["waitForPodsReady"]["timeout"] == "1s"


def test_kueue_pods_ready_timeout_defaults_to_the_spec_default() -> None:
    values = _values(record_addons(platform()), "platform-kueue-controller")
    assert yaml.safe_load(values["managerConfig"]["controllerManagerConfigYaml"])["waitForPodsReady"]["timeout"] == \
        "600s"


@pytest.mark.parametrize("protect", [True, False])
def test_cert_manager_renders_and_keeps_its_crds_as_the_spec_says(protect: bool) -> None:
    values = _values(record_addons(platform({"protect_crds": protect})), "platform-cert-manager-chart")
    assert values == {"crds": {"enabled": True, "keep": protect}}


def test_kserve_runs_standard_mode_behind_the_istio_ingress_by_default(recorded: RecordedAddons) -> None:
    controller = _values(recorded, "platform-kserve-resources")["kserve"]["controller"]
    assert controller["deploymentMode"] == "Standard"
    gateway = controller["gateway"]
    assert gateway["domain"] == "ml.test"
    assert gateway["ingressGateway"]["className"] == "istio"
    assert gateway["ingressGateway"]["gateway"] == GATEWAY_REF
    assert gateway["ingressGateway"]["enableGatewayApi"] is False
    assert gateway["disableIngressCreation"] is True  # the workloads' VirtualService is the one route
    # KServe's host template yields the same host the spec validation reserves for the service.
    rendered = gateway["domainTemplate"].replace("{{ .Name }}", "llm").replace("{{ .Namespace }}", "ml") \
        .replace("{{ .IngressDomain }}", gateway["domain"])
    assert rendered == model_host("llm", "ml", "ml.test")
    assert _values(recorded, "platform-kserve-runtime-configs") == {"kserve": {"servingruntime": {"enabled": True}}}
    assert _values(recorded, "platform-kserve-crd") == {}


def test_kserve_knative_mode_is_passed_through() -> None:
    knative = record_addons(platform({"kserve": {"deployment_mode": "Knative"}}))
    controller = _values(knative, "platform-kserve-resources")["kserve"]["controller"]
    assert controller["deploymentMode"] == "Knative"


def test_kserve_charts_go_crds_then_controller_then_runtimes(recorded: RecordedAddons) -> None:
    crd, controller, runtimes = (recorded.chart(f"platform-kserve-{part}") for part in
                                 ("crd", "resources", "runtime-configs"))
    assert crd.urn in controller.dependencies
    assert recorded.chart("platform-cert-manager-chart").urn in controller.dependencies
    assert {crd.urn, controller.urn} <= set(runtimes.dependencies)
    assert controller.urn not in crd.dependencies


def test_kserve_docstring_records_why_standard_mode() -> None:
    doc = kserve_module.__doc__ or ""
    for reason in ("no Knative dependency", "Deployment + Service + HorizontalPodAutoscaler", "scale-to-zero"):
        assert reason in doc


def test_every_chart_waits_for_its_own_namespace(recorded: RecordedAddons) -> None:
    namespaces = {r.inputs["metadata"]["name"]: r.urn
                  for r in recorded.recording.of_type("kubernetes:core/v1:Namespace")}
    for name, chart in recorded.charts().items():
        assert namespaces[chart.inputs["namespace"]] in chart.dependencies, name
