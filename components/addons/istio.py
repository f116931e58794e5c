"""Istio: the service mesh (mTLS between workloads), the shared ingress gateway and the mesh-wide policies.

Charts (all from the Istio repository, same version): `base` (CRDs and cluster roles; CRDs rendered from
templates, `base.enableCRDTemplates`, so they upgrade with the chart), `istiod` (control plane, sidecar
injector and config validation webhook), and `gateway` released as `istio-ingressgateway` into
`istio-ingress`, which gives its pods the label `istio: ingressgateway` (set explicitly as well, so the
selector does not hang on the release name). The gateway Service is a LoadBalancer that Pulumi does not
wait for (`pulumi.com/skipAwait`): nothing in the stack needs its address, and on a kind cluster it never
gets one.

Mesh-wide policies, all in the root namespace `istio-system` unless said otherwise:

- `PeerAuthentication/default`: STRICT mTLS. A sidecar only accepts mutual TLS from other sidecars.
- `AuthorizationPolicy/default-deny`: an empty spec, i.e. an ALLOW policy that matches nothing. In the root
  namespace it applies to every workload with a sidecar, *including the ingress gateway*; with it,
  anything not explicitly allowed below is denied.
- `AuthorizationPolicy/ingress-gateway` (namespace `istio-ingress`, selecting the gateway pods): allows
  all inbound traffic to the gateway itself; without it default-deny would close the front door.
- `AuthorizationPolicy/allow-ingress-gateway`: any workload accepts requests from the gateway's identity
  (`cluster.local/ns/istio-ingress/sa/istio-ingressgateway`).
- `AuthorizationPolicy/allow-prometheus-scrape` (when the Monitoring add-on is installed here): GET on
  `/metrics` and `/stats/prometheus` from Prometheus's identity. Prometheus joins the mesh for this with a
  sidecar that intercepts nothing and only writes its workload certificate for Prometheus to use
  (monitoring.py); a plaintext scraper could not pass STRICT mTLS at all.
- Not in the mesh, so not affected: the API server calling the KServe and Kueue admission webhooks (their
  namespaces have no sidecar injection), the add-on controllers, DCGM exporters, and Ray pods (the Ray
  builders opt them out of injection; KubeRay's operator talks to their dashboards in plaintext).
  Traffic between workloads of the team namespaces needs ALLOW policies in those namespaces (workloads).

The shared `networking.istio.io/v1` Gateway `istio-ingress/gpuplat-gateway` serves `*.<addons.istio.domain>`
on port 80 (HTTP) and 443 (HTTPS, TLS terminated at the gateway with the certificate in the Secret
`istio-ingress/gpuplat-ingress-tls`, type kubernetes.io/tls, e.g. issued by a cert-manager Certificate;
until that Secret exists only port 80 serves, and by default port 80 only redirects to HTTPS:
`addons.istio.https_redirect: false` serves plain HTTP where there is no certificate). VirtualServices of
the workloads bind to it by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.addons.charts import CHARTS
from components.addons.helm_chart import InstallSettings, addon_namespace, install_chart
from components.addons.objects import Manifest, custom_resource
from components.names import (
    GATEWAY_NAME,
    GATEWAY_REF,
    INGRESS_NAMESPACE,
    INGRESS_RELEASE,
    INGRESS_SELECTOR,
    ISTIO_NAMESPACE,
    SKIP_AWAIT_ANNOTATION,
    recommended_labels,
)

ISTIO_BASE_RELEASE = "istio-base"
ISTIOD_RELEASE = "istiod"
INGRESS_TLS_SECRET = "gpuplat-ingress-tls"
TRUST_DOMAIN = "cluster.local"
METRICS_PATHS = ("/metrics", "/stats/prometheus")

SECURITY_API = "security.istio.io/v1"
NETWORKING_API = "networking.istio.io/v1"


def principal(namespace: str, service_account: str) -> str:
    """The SPIFFE identity Istio gives a workload running as `service_account` in `namespace`."""
    return f"{TRUST_DOMAIN}/ns/{namespace}/sa/{service_account}"


INGRESS_GATEWAY_PRINCIPAL = principal(INGRESS_NAMESPACE, INGRESS_RELEASE)  # the gateway chart's ServiceAccount


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": recommended_labels(name, "istio")}


def strict_mtls() -> Manifest:
    return {"apiVersion": SECURITY_API, "kind": "PeerAuthentication", "metadata": _metadata("default", ISTIO_NAMESPACE),
            "spec": {"mtls": {"mode": "STRICT"}}}


def default_deny() -> Manifest:
    """ALLOW-nothing in the root namespace: every request to a sidecar is denied unless another ALLOW matches."""
    return {"apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
            "metadata": _metadata("default-deny", ISTIO_NAMESPACE), "spec": {}}


def ingress_gateway_open() -> Manifest:
    """The gateway pods accept everything: the internet is its client, routing decides what is exposed."""
    return {"apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
            "metadata": _metadata("ingress-gateway", INGRESS_NAMESPACE),
            "spec": {"selector": {"matchLabels": dict(INGRESS_SELECTOR)}, "action": "ALLOW", "rules": [{}]}}


def allow_from_ingress_gateway() -> Manifest:
    return {"apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
            "metadata": _metadata("allow-ingress-gateway", ISTIO_NAMESPACE),
            "spec": {"action": "ALLOW", "rules": [{"from": [{"source": {"principals": [INGRESS_GATEWAY_PRINCIPAL]}}]}]}}


def allow_prometheus_scrape(prometheus_principal: str) -> Manifest:
    return {"apiVersion": SECURITY_API, "kind": "AuthorizationPolicy",
            "metadata": _metadata("allow-prometheus-scrape", ISTIO_NAMESPACE),
            "spec": {"action": "ALLOW", "rules": [{
                "from": [{"source": {"principals": [prometheus_principal]}}],
                "to": [{"operation": {"methods": ["GET"], "paths": list(METRICS_PATHS)}}],
            }]}}


def shared_gateway(domain: str, https_redirect: bool = True, tls_secret: str = INGRESS_TLS_SECRET) -> Manifest:
    """HTTP on 80 answers with a redirect to HTTPS unless `https_redirect` is off (no certificate, laptops)."""
    hosts = [f"*.{domain}"]
    http: Manifest = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": hosts}
    if https_redirect:
        http["tls"] = {"httpsRedirect": True}
    return {"apiVersion": NETWORKING_API, "kind": "Gateway", "metadata": _metadata(GATEWAY_NAME, INGRESS_NAMESPACE),
            "spec": {"selector": dict(INGRESS_SELECTOR), "servers": [
                http,
                {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": hosts,
                 "tls": {"mode": "SIMPLE", "credentialName": tls_secret}},
            ]}}


def mesh_policies(prometheus_principal: str | None) -> dict[str, Manifest]:
    """Every mesh-wide security object, keyed by a stable name."""
    policies = {
        "strict-mtls": strict_mtls(),
        "default-deny": default_deny(),
        "ingress-gateway": ingress_gateway_open(),
        "allow-ingress-gateway": allow_from_ingress_gateway(),
    }
    if prometheus_principal is not None:
        policies["allow-prometheus-scrape"] = allow_prometheus_scrape(prometheus_principal)
    return policies


def base_values() -> dict[str, Any]:
    return {"defaultRevision": "default", "base": {"enableCRDTemplates": True}}


def istiod_values() -> dict[str, Any]:
    return {"global": {"istioNamespace": ISTIO_NAMESPACE}}


def gateway_values() -> dict[str, Any]:
    return {"labels": dict(INGRESS_SELECTOR), "service": {"annotations": {SKIP_AWAIT_ANNOTATION: "true"}}}


@dataclass(frozen=True)
class IstioArgs:
    """`domain`: the shared Gateway serves `*.<domain>`. `prometheus_principal`: allow scrapes from this
    identity (set when Monitoring is installed here). `version` overrides the pinned version of all three
    Istio charts (they are released together)."""

    domain: str
    https_redirect: bool = True
    prometheus_principal: str | None = None
    version: str | None = None
    install: InstallSettings = InstallSettings()


class Istio(pulumi.ComponentResource):
    """Istio base + istiod in `istio-system`, the ingress gateway in `istio-ingress`, mesh policies, Gateway."""

    ready: tuple[pulumi.Resource, ...]
    """What Istio objects (VirtualService, AuthorizationPolicy...) wait for: CRDs + istiod's webhooks."""
    sidecar_injector: pulumi.Resource
    """istiod: pods that must get a sidecar are created after it (Prometheus)."""

    def __init__(self, name: str, args: IstioArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:addons:Istio", name, None, opts)
        system = addon_namespace(f"{name}-namespace", ISTIO_NAMESPACE, "istio", self)
        ingress = addon_namespace(f"{name}-ingress-namespace", INGRESS_NAMESPACE, "istio-ingress", self)
        base = install_chart(
            f"{name}-base", CHARTS["base"].at(args.version), release=ISTIO_BASE_RELEASE, namespace=ISTIO_NAMESPACE,
            values=base_values(), settings=args.install, parent=self, depends_on=[system],
        )
        istiod = install_chart(
            f"{name}-istiod", CHARTS["istiod"].at(args.version), release=ISTIOD_RELEASE, namespace=ISTIO_NAMESPACE,
            values=istiod_values(), settings=args.install, parent=self, depends_on=[system, base],
        )
        # The gateway's pods are injected with the gateway template, so istiod must be serving first.
        gateway_chart = install_chart(
            f"{name}-ingress-gateway", CHARTS["gateway"].at(args.version), release=INGRESS_RELEASE,
            namespace=INGRESS_NAMESPACE, values=gateway_values(), settings=args.install, parent=self,
            depends_on=[ingress, istiod],
        )
        self.ready = (base, istiod)
        self.sidecar_injector = istiod
        for key, manifest in mesh_policies(args.prometheus_principal).items():
            namespaces = [ingress] if manifest["metadata"]["namespace"] == INGRESS_NAMESPACE else []
            custom_resource(f"{name}-{key}", manifest, parent=self, depends_on=[*self.ready, *namespaces])
        self.gateway = custom_resource(f"{name}-gateway", shared_gateway(args.domain, args.https_redirect), parent=self,
                                       depends_on=[*self.ready, ingress])
        self.register_outputs({"gateway": GATEWAY_REF, "hosts": f"*.{args.domain}", "ingress_gateway": gateway_chart})
