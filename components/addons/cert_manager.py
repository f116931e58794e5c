"""cert-manager: certificates for admission webhooks (KServe's serving certificate and self-signed Issuer).

`crds.enabled: true` renders the CRDs from the chart's templates (the default is false: cert-manager
expects them to be installed separately), so they are applied and upgraded with the chart. `crds.keep`
follows `addons.protect_crds`: kept CRDs carry `helm.sh/resource-policy: keep`, which helm.v4.Chart turns
into `retain_on_delete`; in environments without CRD protection a destroy removes them with the rest.
The chart's `startupapicheck` is a Helm hook and is not run (helm.v4.Chart runs no hooks); readiness is
the webhook Deployment becoming available, which helm.v4.Chart awaits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.addons.charts import CHARTS
from components.addons.helm_chart import InstallSettings, addon_namespace, install_chart
from components.names import CERT_MANAGER_NAMESPACE

CERT_MANAGER_RELEASE = "cert-manager"


def cert_manager_values(keep_crds: bool) -> dict[str, Any]:
    return {"crds": {"enabled": True, "keep": keep_crds}}


@dataclass(frozen=True)
class CertManagerArgs:
    """`version` overrides the pinned cert-manager chart version."""

    version: str | None = None
    install: InstallSettings = InstallSettings()


class CertManager(pulumi.ComponentResource):
    """cert-manager (controller, webhook, cainjector) and its CRDs in `cert-manager`."""

    ready: tuple[pulumi.Resource, ...]
    """What Certificates and Issuers wait for: CRDs + the cert-manager webhook."""

    def __init__(self, name: str, args: CertManagerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:addons:CertManager", name, None, opts)
        namespace = addon_namespace(f"{name}-namespace", CERT_MANAGER_NAMESPACE, "cert-manager", self)
        chart = install_chart(
            f"{name}-chart", CHARTS["cert-manager"].at(args.version), release=CERT_MANAGER_RELEASE,
            namespace=CERT_MANAGER_NAMESPACE, values=cert_manager_values(args.install.protect_crds),
            settings=args.install, parent=self, depends_on=[namespace],
        )
        self.ready = (chart,)
        self.register_outputs({"namespace": namespace.metadata.name, "chart": chart})
