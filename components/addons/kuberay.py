"""KubeRay: the operator that runs RayCluster, RayJob and RayService (`ray.io/v1`).

The chart keeps its CRDs in `crds/`; helm.v4.Chart applies them as ordinary objects, so they move with
the chart version (plain `helm upgrade` would leave them behind). Its metrics (`:8080/metrics`) are
scraped by the Monitoring add-on's ServiceMonitor, so the chart's own ServiceMonitor stays off and KubeRay
does not depend on the monitoring CRDs. Batch admission is Kueue's job (it suspends and resumes Ray
objects); KubeRay's `batchScheduler` option has no Kueue value and stays off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.addons.charts import CHARTS
from components.addons.helm_chart import InstallSettings, addon_namespace, install_chart
from components.names import KUBERAY_NAMESPACE

KUBERAY_RELEASE = "kuberay-operator"
# The chart's fullnameOverride/nameOverride: service, deployment and pod label value.
KUBERAY_OPERATOR_NAME = "kuberay-operator"
KUBERAY_METRICS_PORT = "http"


def kuberay_values() -> dict[str, Any]:
    return {
        "metrics": {"enabled": True, "serviceMonitor": {"enabled": False}},
        "batchScheduler": {"enabled": False},
    }


@dataclass(frozen=True)
class KubeRayArgs:
    """`version` overrides the pinned kuberay-operator chart version."""

    version: str | None = None
    install: InstallSettings = InstallSettings()


class KubeRay(pulumi.ComponentResource):
    """The KubeRay operator and the `ray.io` CRDs in `kuberay-system`."""

    ready: tuple[pulumi.Resource, ...]
    """What Ray custom resources wait for: the chart (CRDs + operator)."""

    def __init__(self, name: str, args: KubeRayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:addons:KubeRay", name, None, opts)
        namespace = addon_namespace(f"{name}-namespace", KUBERAY_NAMESPACE, "kuberay", self)
        operator = install_chart(
            f"{name}-operator", CHARTS["kuberay-operator"].at(args.version), release=KUBERAY_RELEASE,
            namespace=KUBERAY_NAMESPACE, values=kuberay_values(), settings=args.install, parent=self,
            depends_on=[namespace],
        )
        self.ready = (operator,)
        self.register_outputs({"namespace": namespace.metadata.name, "chart": operator})
