"""Platform add-ons: GPU support, KubeRay, Kueue, cert-manager, KServe, monitoring and Istio (README.md)."""

from components.addons.cert_manager import CertManager, CertManagerArgs
from components.addons.gpu import GpuSupport, GpuSupportArgs
from components.addons.istio import Istio, IstioArgs
from components.addons.kserve import KServe, KServeArgs
from components.addons.kuberay import KubeRay, KubeRayArgs
from components.addons.kueue import Kueue, KueueArgs
from components.addons.monitoring import Monitoring, MonitoringArgs
from components.addons.platform import PlatformAddons, PlatformAddonsArgs

__all__ = [
    "CertManager",
    "CertManagerArgs",
    "GpuSupport",
    "GpuSupportArgs",
    "Istio",
    "IstioArgs",
    "KServe",
    "KServeArgs",
    "KubeRay",
    "KubeRayArgs",
    "Kueue",
    "KueueArgs",
    "Monitoring",
    "MonitoringArgs",
    "PlatformAddons",
    "PlatformAddonsArgs",
]
