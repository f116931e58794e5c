"""Every custom resource the add-ons declare validates against its pinned CRD, unknown fields as errors."""

from __future__ import annotations

from typing import Any

import pytest

from components.addons import istio, monitoring
from tests.addons.conftest import GPU_POOL, SYSTEM_POOL, ints, platform, record_addons
from tests.support.crd_schema import validate_custom_resource

VARIANTS = {
    "device-plugin": platform(),
    "gpu-operator": platform({"gpu": {"mode": "gpu-operator"}}),
    "no-istio": platform({"istio": {"enabled": False}}),
    "istio-preinstalled": platform(preinstalled=frozenset({"istio"})),
    "sharing": platform(node_pools={"system": SYSTEM_POOL, "gpu-a": {**GPU_POOL, "time_slicing_replicas": 2}}),
}


def _declared() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for variant, variant_platform in VARIANTS.items():
        for registration in record_addons(variant_platform).custom_resources():
            found.append((f"{variant}:{registration.name}", ints(registration.inputs)))
    return found


DECLARED = _declared()


@pytest.mark.parametrize(("case", "obj"), DECLARED, ids=[case for case, _ in DECLARED])
def test_declared_custom_resource_is_valid_against_its_pinned_crd(case: str, obj: dict[str, Any]) -> None:
    assert validate_custom_resource(obj) == []


def test_the_recordings_cover_every_kind_the_addons_declare() -> None:
    kinds = {(obj["apiVersion"], obj["kind"]) for _, obj in DECLARED}
    assert kinds == {
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
        ("security.istio.io/v1", "PeerAuthentication"),
        ("security.istio.io/v1", "AuthorizationPolicy"),
        ("networking.istio.io/v1", "Gateway"),
    }


BUILDERS = {
    "strict-mtls": istio.strict_mtls(),
    "default-deny": istio.default_deny(),
    "ingress-gateway": istio.ingress_gateway_open(),
    "allow-ingress-gateway": istio.allow_from_ingress_gateway(),
    "allow-prometheus": istio.allow_prometheus_scrape(monitoring.PROMETHEUS_PRINCIPAL),
    "gateway": istio.shared_gateway("ml.example.com"),
    "gateway-plain-http": istio.shared_gateway("ml.localhost", https_redirect=False),
    "dcgm-device-plugin": monitoring.dcgm_pod_monitor("device-plugin"),
    "dcgm-gpu-operator": monitoring.dcgm_pod_monitor("gpu-operator"),
    "kuberay-operator": monitoring.kuberay_operator_service_monitor(),
    "ray": monitoring.ray_pod_monitor(),
    "kueue": monitoring.kueue_service_monitor(),
    "kserve-controller": monitoring.kserve_controller_service_monitor(),
    "gpu-rules": monitoring.gpu_rules(),
}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builder_output_is_valid_as_built(name: str) -> None:
    assert validate_custom_resource(dict(BUILDERS[name])) == []


@pytest.mark.parametrize(("obj", "problem"), [
    # PodMonitor endpoints are `podMetricsEndpoints`; `endpoints` belongs to ServiceMonitor.
    ({**monitoring.ray_pod_monitor(), "spec": {**monitoring.ray_pod_monitor()["spec"], "endpoints": []}},
     "spec: Additional properties are not allowed ('endpoints' was unexpected)"),
    ({**istio.strict_mtls(), "spec": {"mtls": {"mode": "STRIKT"}}}, "spec.mtls.mode: 'STRIKT' is not one of"),
])
def test_the_validator_would_catch_a_wrong_field(obj: dict[str, Any], problem: str) -> None:
    assert any(found.startswith(problem) for found in validate_custom_resource(obj))
