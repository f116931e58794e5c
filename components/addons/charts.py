"""The one table of Helm charts the add-ons install: chart, where it is published, pinned version.

Versions are the upstream releases pinned in `../shared/reference/README.md` (where the chart values and
CRDs the tests check against come from). An environment moves an add-on to another version with the
add-on's `version` key in `stacks/<env>.yaml` (`ChartSource.at`); nothing else names a version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

ISTIO_REPOSITORY = "https://istio-release.storage.googleapis.com/charts"


@dataclass(frozen=True)
class ChartSource:
    """Where one chart comes from. `chart` is the chart name in `repository`, or a full `oci://` reference
    (then `repository` is None: helm pulls OCI charts by reference, not through a repository index)."""

    chart: str
    version: str
    repository: str | None = None

    @property
    def name(self) -> str:
        """The chart's own name (`kueue` for `oci://registry.k8s.io/kueue/charts/kueue`)."""
        return self.chart.rsplit("/", 1)[-1]

    def at(self, version: str | None) -> ChartSource:
        """This chart at the environment's override, or at the pinned version when there is none."""
        return self if version is None else replace(self, version=version)


CHARTS: Mapping[str, ChartSource] = MappingProxyType({
    "nvidia-device-plugin": ChartSource("nvidia-device-plugin", "0.20.0", "https://nvidia.github.io/k8s-device-plugin"),
    "gpu-operator": ChartSource("gpu-operator", "v26.7.0", "https://helm.ngc.nvidia.com/nvidia"),
    "dcgm-exporter": ChartSource("dcgm-exporter", "4.8.2", "https://nvidia.github.io/dcgm-exporter/helm-charts"),
    "kuberay-operator": ChartSource("kuberay-operator", "1.7.0", "https://ray-project.github.io/kuberay-helm/"),
    "kueue": ChartSource("oci://registry.k8s.io/kueue/charts/kueue", "0.19.2"),
    "cert-manager": ChartSource("oci://quay.io/jetstack/charts/cert-manager", "v1.21.1"),
    "kserve-crd": ChartSource("oci://ghcr.io/kserve/charts/kserve-crd", "v0.20.0"),
    "kserve-resources": ChartSource("oci://ghcr.io/kserve/charts/kserve-resources", "v0.20.0"),
    "kserve-runtime-configs": ChartSource("oci://ghcr.io/kserve/charts/kserve-runtime-configs", "v0.20.0"),
    "kube-prometheus-stack": ChartSource(
        "oci://ghcr.io/prometheus-community/charts/kube-prometheus-stack", "88.5.3"
    ),
    "base": ChartSource("base", "1.30.3", ISTIO_REPOSITORY),
    "istiod": ChartSource("istiod", "1.30.3", ISTIO_REPOSITORY),
    "gateway": ChartSource("gateway", "1.30.3", ISTIO_REPOSITORY),
})
