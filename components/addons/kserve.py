"""KServe: model serving (InferenceService, ServingRuntime, ClusterServingRuntime).

Three charts, in this order:

1. `kserve-crd`: the `serving.kserve.io` CRDs (from templates, so they upgrade with the chart);
2. `kserve-resources`: the controller, its webhooks and `inferenceservice-config`. Its webhook certificate
   is a cert-manager `Certificate` signed by a self-signed `Issuer` the chart creates, so this chart
   depends on cert-manager (CRDs + webhook) as well as on `kserve-crd`;
3. `kserve-runtime-configs`: the built-in ClusterServingRuntimes (`kserve.servingruntime.enabled`); they
   are admitted by the controller's webhook, so after `kserve-resources`.

Deployment mode: `Standard` by default (`kserve.controller.deploymentMode`; called `RawDeployment` before
KServe 0.16; the chart's own default is `Knative`). Why Standard:

- no Knative dependency: Knative Serving (activator, autoscaler, queue-proxy sidecars, its own Istio
  integration) is a second platform to install, upgrade and secure; the platform does not run it;
- an InferenceService becomes a plain Deployment + Service + HorizontalPodAutoscaler, which the
  capacity maths, the policy pack and ordinary `kubectl` all understand;
- GPU pods gain nothing from scale-to-zero: a cold start means a GPU node from the autoscaler plus
  pulling a multi-GB image and loading the model, minutes rather than the seconds Knative is designed
  around, so model services keep `min_replicas >= 1` anyway;
- no queue-proxy sidecar per pod next to the Istio sidecar (less memory and one hop less per request).

`addons.kserve.deployment_mode: Knative` is passed through for clusters that already run Knative Serving.

Ingress through Istio: traffic enters through the shared Istio Gateway `istio-ingress/gpuplat-gateway`
(`ingressGateway.gateway`, also what KServe binds its VirtualServices to in Knative mode), with
`ingressGateway.className: istio` for anything KServe exposes as a Kubernetes Ingress. The route of each
model service is the workloads' VirtualService on that Gateway, which also weights stable and canary
predictors; so `disableIngressCreation` is on: an Ingress of KServe's own for the same host would be a
second, conflicting route that bypasses the canary split. KServe still reports the URL in the
InferenceService status, from `domain` and `domainTemplate`, which give the same host as
`components.names.model_host`: `<service>.<namespace>.<addons.istio.domain>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pulumi

from components.addons.charts import CHARTS
from components.addons.helm_chart import InstallSettings, addon_namespace, install_chart
from components.names import GATEWAY_REF, KSERVE_NAMESPACE

KSERVE_CRD_RELEASE = "kserve-crd"
KSERVE_RELEASE = "kserve"
KSERVE_RUNTIMES_RELEASE = "kserve-runtime-configs"
ISTIO_INGRESS_CLASS = "istio"
# Same shape as components.names.model_host: <service>.<namespace>.<domain>. A Go template KServe expands.
KSERVE_DOMAIN_TEMPLATE = "{{ .Name }}.{{ .Namespace }}.{{ .IngressDomain }}"
# The controller's metrics Service (behind kube-rbac-proxy) and the label inference pods carry.
KSERVE_CONTROLLER_METRICS_LABELS = {"control-plane": "kserve-controller-manager", "app.kubernetes.io/name": "kserve"}
KSERVE_METRICS_PORT = "https"

DeploymentMode = Literal["Standard", "Knative"]


def kserve_resources_values(deployment_mode: DeploymentMode, domain: str) -> dict[str, Any]:
    return {"kserve": {"controller": {
        "deploymentMode": deployment_mode,
        "gateway": {
            "domain": domain,
            "domainTemplate": KSERVE_DOMAIN_TEMPLATE,
            "urlScheme": "http",
            "disableIngressCreation": True,
            "ingressGateway": {
                "className": ISTIO_INGRESS_CLASS,
                "gateway": GATEWAY_REF,
                "enableGatewayApi": False,
                "createGateway": False,
            },
        },
    }}}


def kserve_runtime_values() -> dict[str, Any]:
    return {"kserve": {"servingruntime": {"enabled": True}}}


@dataclass(frozen=True)
class KServeArgs:
    """`domain`: the ingress domain (`addons.istio.domain`) KServe reports URLs under.

    `cert_manager`: what the webhook Certificate must wait for (cert-manager's CRDs and webhook) when
    cert-manager is installed by this stack; empty when it is pre-installed. `version` overrides the
    pinned version of all three KServe charts (they are released together).
    """

    domain: str
    deployment_mode: DeploymentMode = "Standard"
    cert_manager: Sequence[pulumi.Resource] = field(default_factory=tuple)
    version: str | None = None
    install: InstallSettings = InstallSettings()


class KServe(pulumi.ComponentResource):
    """KServe CRDs, controller and built-in runtimes in `kserve`."""

    ready: tuple[pulumi.Resource, ...]
    """What InferenceServices and ServingRuntimes wait for: CRDs, the controller webhook and the runtimes."""

    def __init__(self, name: str, args: KServeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:addons:KServe", name, None, opts)
        namespace = addon_namespace(f"{name}-namespace", KSERVE_NAMESPACE, "kserve", self)
        crds = install_chart(
            f"{name}-crd", CHARTS["kserve-crd"].at(args.version), release=KSERVE_CRD_RELEASE,
            namespace=KSERVE_NAMESPACE, values={}, settings=args.install, parent=self, depends_on=[namespace],
        )
        controller = install_chart(
            f"{name}-resources", CHARTS["kserve-resources"].at(args.version), release=KSERVE_RELEASE,
            namespace=KSERVE_NAMESPACE,
            values=kserve_resources_values(args.deployment_mode, args.domain),
            settings=args.install, parent=self, depends_on=[namespace, crds, *args.cert_manager],
        )
        runtimes = install_chart(
            f"{name}-runtime-configs", CHARTS["kserve-runtime-configs"].at(args.version),
            release=KSERVE_RUNTIMES_RELEASE, namespace=KSERVE_NAMESPACE, values=kserve_runtime_values(),
            settings=args.install, parent=self, depends_on=[namespace, crds, controller],
        )
        self.ready = (crds, controller, runtimes)
        self.register_outputs({"namespace": namespace.metadata.name, "deployment_mode": args.deployment_mode})
