"""Names and labels shared by the cluster, the add-ons and the workloads (one definition each)."""

from __future__ import annotations

PROJECT = "gpuplat"
PART_OF = "gpuplat"

# Node labels every pool carries (EKS node groups set them; on existing clusters the user labels nodes).
POOL_LABEL = "gpuplat.io/pool"
ACCELERATOR_LABEL = "gpuplat.io/accelerator"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_TAINT_KEY = "nvidia.com/gpu"
# The NVIDIA device plugin picks a node's sharing/MIG configuration by this label (name fixed in the chart).
DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
# Annotation on each Kueue ResourceFlavor: the pool's total schedulable capacity (JSON), read by policy.
POOL_CAPACITY_ANNOTATION = "gpuplat.io/pool-capacity"
POOL_ANNOTATION = "gpuplat.io/pool"

# Namespaces of the platform add-ons.
GPU_NAMESPACE = "gpu-system"
KUBERAY_NAMESPACE = "kuberay-system"
KUEUE_NAMESPACE = "kueue-system"
CERT_MANAGER_NAMESPACE = "cert-manager"
KSERVE_NAMESPACE = "kserve"
MONITORING_NAMESPACE = "monitoring"
ISTIO_NAMESPACE = "istio-system"
INGRESS_NAMESPACE = "istio-ingress"

# The shared Istio ingress: the gateway chart release and the networking.istio.io Gateway on it.
INGRESS_RELEASE = "istio-ingressgateway"
INGRESS_SELECTOR = {"istio": "ingressgateway"}
GATEWAY_NAME = "gpuplat-gateway"
GATEWAY_REF = f"{INGRESS_NAMESPACE}/{GATEWAY_NAME}"

# kube-prometheus-stack selects monitors labelled `release: <release name>` by default.
PROMETHEUS_RELEASE = "kube-prometheus-stack"
MONITOR_LABELS = {"release": PROMETHEUS_RELEASE}
GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"

# Kueue job labels (kueue pkg/controller/constants).
QUEUE_NAME_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_CLASS_LABEL = "kueue.x-k8s.io/priority-class"
ELASTIC_JOB_ANNOTATION = "kueue.x-k8s.io/elastic-job"

SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"


def recommended_labels(name: str, component: str, instance: str | None = None) -> dict[str, str]:
    """The `app.kubernetes.io/*` labels every object of the platform carries."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance or name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def model_host(service: str, namespace: str, domain: str) -> str:
    """Default external host of a model service on the shared gateway: `<service>.<namespace>.<domain>`."""
    return f"{service}.{namespace}.{domain}"
