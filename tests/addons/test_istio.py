"""Istio: charts, the shared Gateway, and what the mesh-wide policies let through (evaluated, not just read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from components.addons import istio
from components.addons.istio import INGRESS_GATEWAY_PRINCIPAL, INGRESS_TLS_SECRET, principal
from components.addons.monitoring import PROMETHEUS_PRINCIPAL
from components.names import (
    GATEWAY_NAME,
    INGRESS_NAMESPACE,
    INGRESS_RELEASE,
    INGRESS_SELECTOR,
    ISTIO_NAMESPACE,
    SKIP_AWAIT_ANNOTATION,
)
from tests.addons.conftest import RecordedAddons, ints, platform, record_addons

SECURITY = "kubernetes:security.istio.io/v1"


@pytest.fixture(scope="module")
def recorded() -> RecordedAddons:
    return record_addons(platform({"istio": {"domain": "ml.test"}}))


def _objects(recorded: RecordedAddons, kind: str) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: ints(r.inputs) for r in recorded.custom_resources()
            if r.type.endswith(f":{kind}")}


# ----------------------------------------------------------------------------- a small Istio authz model


@dataclass(frozen=True)
class Request:
    """One request as Istio's RBAC filter sees it at the destination's sidecar."""

    namespace: str
    labels: dict[str, str]
    source_principal: str | None  # None: plaintext, no peer identity
    method: str = "GET"
    path: str = "/"


def _matches_source(source: dict[str, Any], request: Request) -> bool:
    principals = source.get("principals")
    return principals is None or request.source_principal in principals


def _matches_operation(operation: dict[str, Any], request: Request) -> bool:
    methods, paths = operation.get("methods"), operation.get("paths")
    return (methods is None or request.method in methods) and (paths is None or request.path in paths)


def _rule_matches(rule: dict[str, Any], request: Request) -> bool:
    sources = rule.get("from")
    operations = rule.get("to")
    return (sources is None or any(_matches_source(item["source"], request) for item in sources)) and \
        (operations is None or any(_matches_operation(item["operation"], request) for item in operations))


def allowed(policies: list[dict[str, Any]], request: Request) -> bool:
    """ALLOW-only semantics (the add-on declares no DENY/CUSTOM): root-namespace policies apply to every
    workload, others to their namespace; a selector narrows to matching labels. If any ALLOW policy
    applies, the request needs a matching rule; a policy without rules matches nothing."""
    applying = []
    for policy in policies:
        namespace = policy["metadata"]["namespace"]
        if namespace not in (ISTIO_NAMESPACE, request.namespace):
            continue
        selector = policy["spec"].get("selector", {}).get("matchLabels", {})
        if any(request.labels.get(key) != value for key, value in selector.items()):
            continue
        assert policy["spec"].get("action", "ALLOW") == "ALLOW"
        applying.append(policy)
    if not applying:
        return True
    return any(_rule_matches(rule, request) for policy in applying for rule in policy["spec"].get("rules", []))


# ------------------------------------------------------------------------------------------------ tests


def test_charts_base_then_istiod_then_the_gateway_release_named_for_the_shared_selector(
    recorded: RecordedAddons,
) -> None:
    base, istiod, gateway = (recorded.chart(f"platform-istio-{part}") for part in ("base", "istiod", "ingress-gateway"))
    assert base.urn in istiod.dependencies
    assert istiod.urn in gateway.dependencies  # gateway pods are injected by istiod
    assert ints(base.inputs["values"]) == {"defaultRevision": "default", "base": {"enableCRDTemplates": True}}
    assert (gateway.inputs["name"], gateway.inputs["namespace"]) == (INGRESS_RELEASE, INGRESS_NAMESPACE)
    values = gateway.inputs["values"]
    assert values["labels"] == INGRESS_SELECTOR
    # The chart's own derivation from the release name gives the same label: istio-<x> -> istio: <x>.
    assert {"istio": INGRESS_RELEASE.removeprefix("istio-")} == INGRESS_SELECTOR
    assert values["service"]["annotations"] == {SKIP_AWAIT_ANNOTATION: "true"}
    assert recorded.ready_names()["istio"] == ["platform-istio-base", "platform-istio-istiod"]


def test_mesh_wide_strict_mtls(recorded: RecordedAddons) -> None:
    (peer,) = _objects(recorded, "PeerAuthentication").values()
    assert peer["metadata"]["namespace"] == ISTIO_NAMESPACE
    assert peer["spec"] == {"mtls": {"mode": "STRICT"}}  # no selector: the whole mesh


def test_default_deny_is_an_empty_policy_in_the_root_namespace(recorded: RecordedAddons) -> None:
    deny = _objects(recorded, "AuthorizationPolicy")["default-deny"]
    assert deny["metadata"]["namespace"] == ISTIO_NAMESPACE
    assert deny["spec"] == {}


def test_the_policies_allow_exactly_gateway_traffic_prometheus_scrapes_and_the_gateway_itself(
    recorded: RecordedAddons,
) -> None:
    policies = list(_objects(recorded, "AuthorizationPolicy").values())
    workload = {"namespace": "team-a", "labels": {"app": "llm"}}
    gateway = {"namespace": INGRESS_NAMESPACE, "labels": dict(INGRESS_SELECTOR)}
    cases = {
        "internet -> ingress gateway": (Request(**gateway, source_principal=None, path="/v1/models"), True),
        "ingress gateway -> workload": (Request(**workload, source_principal=INGRESS_GATEWAY_PRINCIPAL,
                                                method="POST", path="/v1/completions"), True),
        "prometheus GET /metrics": (Request(**workload, source_principal=PROMETHEUS_PRINCIPAL, path="/metrics"), True),
        "prometheus POST inference": (Request(**workload, source_principal=PROMETHEUS_PRINCIPAL, method="POST",
                                              path="/v1/completions"), False),
        "other team -> workload": (Request(**workload, source_principal=principal("team-b", "default"),
                                           method="POST", path="/v1/completions"), False),
        "other mesh pod -> ingress-namespace workload": (Request(namespace=INGRESS_NAMESPACE, labels={"app": "x"},
                                                                 source_principal=principal("team-b", "default")),
                                                         False),
    }
    assert {name: allowed(policies, request) for name, (request, _) in cases.items()} == \
        {name: expected for name, (_, expected) in cases.items()}


def test_gateway_principal_is_the_gateway_charts_service_account() -> None:
    assert f"cluster.local/ns/{INGRESS_NAMESPACE}/sa/{INGRESS_RELEASE}" == INGRESS_GATEWAY_PRINCIPAL


def test_without_monitoring_installed_here_no_prometheus_allowance() -> None:
    recorded = record_addons(platform(preinstalled=frozenset({"monitoring"})))
    assert "allow-prometheus-scrape" not in _objects(recorded, "AuthorizationPolicy")


def test_shared_gateway_serves_the_domain_on_443_and_redirects_80(recorded: RecordedAddons) -> None:
    gateway = _objects(recorded, "Gateway")[GATEWAY_NAME]
    assert gateway["apiVersion"] == "networking.istio.io/v1"
    assert gateway["metadata"]["namespace"] == INGRESS_NAMESPACE
    assert gateway["spec"]["selector"] == INGRESS_SELECTOR
    http, https = gateway["spec"]["servers"]
    assert http == {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["*.ml.test"],
                    "tls": {"httpsRedirect": True}}
    assert https["port"] == {"number": 443, "name": "https", "protocol": "HTTPS"}
    assert https["hosts"] == ["*.ml.test"]
    assert https["tls"] == {"mode": "SIMPLE", "credentialName": INGRESS_TLS_SECRET}


def test_gateway_serves_plain_http_when_the_redirect_is_off() -> None:
    http = istio.shared_gateway("ml.localhost", https_redirect=False)["spec"]["servers"][0]
    assert "tls" not in http and http["hosts"] == ["*.ml.localhost"]


def test_istio_objects_wait_for_crds_and_istiod_and_their_namespace(recorded: RecordedAddons) -> None:
    ready = {recorded.chart("platform-istio-base").urn, recorded.chart("platform-istio-istiod").urn}
    ingress = recorded.one("kubernetes:core/v1:Namespace", "platform-istio-ingress-namespace").urn
    for registration in recorded.custom_resources():
        if registration.type.startswith(("kubernetes:security.istio.io", "kubernetes:networking.istio.io")):
            assert ready <= set(registration.dependencies), registration.name
            if registration.inputs["metadata"]["namespace"] == INGRESS_NAMESPACE:
                assert ingress in registration.dependencies, registration.name
