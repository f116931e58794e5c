"""All add-ons of the platform, each installed only when the spec enables it and the cluster lacks it.

Dependency graph between add-ons (an edge is a `depends_on` from a chart to the other add-on's `ready`):

    cert_manager ──> kserve              the KServe webhook certificate is a cert-manager Certificate
    istio (istiod) ──> monitoring        Prometheus gets its mesh sidecar at pod admission (when both)
    monitoring <── every monitor         monitors are children of Monitoring, after its chart (CRDs)
    gpu, kuberay, kueue, istio, cert_manager: no edge at all; they install in parallel

Within an add-on, CRDs come before the objects that use them (same chart: the provider orders them;
other charts: `depends_on`). Workloads depend on `ready[<add-on>]` for their custom resources, so on
destroy Pulumi deletes those resources first, while the operators that hold finalizers on them are still
running, then the charts (operators and CRDs), then the namespaces. Deleting a CRD (or its operator)
first would orphan or wedge every object of that kind.

An add-on that is disabled, or listed in `gpuplat:preinstalledAddons`, registers nothing; its `ready` is
empty and objects that use it simply assume it is there. GPU support also registers nothing when the
spec has no GPU pool.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import pulumi

from components.addons.cert_manager import CertManager, CertManagerArgs
from components.addons.gpu import GpuSupport, GpuSupportArgs, gpu_pools
from components.addons.helm_chart import InstallSettings
from components.addons.istio import Istio, IstioArgs
from components.addons.kserve import KServe, KServeArgs
from components.addons.kuberay import KubeRay, KubeRayArgs
from components.addons.kueue import Kueue, KueueArgs
from components.addons.monitoring import PROMETHEUS_PRINCIPAL, Monitoring, MonitoringArgs, Scrapes
from components.spec.loader import Platform
from components.spec.rules import ADDON_NAMES


@dataclass(frozen=True)
class PlatformAddonsArgs:
    """The validated platform: the spec's `addons` section, its node pools (GPU pools) and the stack
    settings (`preinstalled_addons`, `skip_await`)."""

    platform: Platform


class PlatformAddons(pulumi.ComponentResource):
    """Every add-on component, created only when the stack installs it (`platform.addon_installed`)."""

    ready: Mapping[str, Sequence[pulumi.Resource]]
    """Per add-on name (all of ADDON_NAMES): what objects of that add-on must depend on (its CRDs and its
    controller/webhook chart). Empty for add-ons this stack does not install."""

    def __init__(self, name: str, args: PlatformAddonsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:addons:PlatformAddons", name, None, opts)
        platform = args.platform
        addons = platform.spec.addons
        install = InstallSettings.of(platform)
        installed = frozenset(addon for addon in ADDON_NAMES if platform.addon_installed(addon))
        present = frozenset(addon for addon in ADDON_NAMES if platform.addon_present(addon))
        pools = gpu_pools(platform.spec)
        child = pulumi.ResourceOptions(parent=self)
        ready: dict[str, tuple[pulumi.Resource, ...]] = {addon: () for addon in ADDON_NAMES}
        self.components: dict[str, pulumi.ComponentResource] = {}

        if "gpu" in installed and pools:
            gpu = GpuSupport(f"{name}-gpu", GpuSupportArgs(
                mode=addons.gpu.mode, gpu_pools=pools, version=addons.gpu.version,
                dcgm_exporter_version=addons.gpu.dcgm_exporter_version, install=install,
            ), child)
            self.components["gpu"], ready["gpu"] = gpu, gpu.ready
        if "kuberay" in installed:
            kuberay = KubeRay(f"{name}-kuberay", KubeRayArgs(version=addons.kuberay.version, install=install), child)
            self.components["kuberay"], ready["kuberay"] = kuberay, kuberay.ready
        if "kueue" in installed:
            kueue = Kueue(f"{name}-kueue", KueueArgs(
                pods_ready_timeout_seconds=addons.kueue.pods_ready_timeout_seconds, version=addons.kueue.version,
                install=install,
            ), child)
            self.components["kueue"], ready["kueue"] = kueue, kueue.ready
        if "cert_manager" in installed:
            cert_manager = CertManager(f"{name}-cert-manager", CertManagerArgs(
                version=addons.cert_manager.version, install=install,
            ), child)
            self.components["cert_manager"], ready["cert_manager"] = cert_manager, cert_manager.ready
        istio: Istio | None = None
        if "istio" in installed:
            istio = Istio(f"{name}-istio", IstioArgs(
                domain=addons.istio.domain,
                https_redirect=addons.istio.https_redirect,
                prometheus_principal=PROMETHEUS_PRINCIPAL if "monitoring" in installed else None,
                version=addons.istio.version, install=install,
            ), child)
            self.components["istio"], ready["istio"] = istio, istio.ready
        if "kserve" in installed:
            kserve = KServe(f"{name}-kserve", KServeArgs(
                domain=addons.istio.domain, deployment_mode=addons.kserve.deployment_mode,
                cert_manager=ready["cert_manager"], version=addons.kserve.version, install=install,
            ), child)
            self.components["kserve"], ready["kserve"] = kserve, kserve.ready
        if "monitoring" in installed:
            scrapes = Scrapes(
                gpu_exporter=addons.gpu.mode if "gpu" in self.components else None,
                installed=installed, present=present, mesh="istio" in present,
            )
            monitoring = Monitoring(f"{name}-monitoring", MonitoringArgs(
                retention=addons.monitoring.retention, grafana=addons.monitoring.grafana, scrapes=scrapes,
                after=(istio.sidecar_injector,) if istio is not None else (), version=addons.monitoring.version,
                install=install,
            ), child)
            self.components["monitoring"], ready["monitoring"] = monitoring, monitoring.ready

        self.ready = MappingProxyType(ready)
        self.register_outputs({"installed": sorted(self.components)})
