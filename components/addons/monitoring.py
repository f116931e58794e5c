"""Monitoring: kube-prometheus-stack (Prometheus operator, Prometheus, Alertmanager, Grafana, exporters),
the scrape configuration for every other add-on, GPU rules and the Grafana dashboards from `dashboards/`.

Selection: Prometheus selects ServiceMonitors, PodMonitors and PrometheusRules labelled
`release: kube-prometheus-stack` (`components.names.MONITOR_LABELS`) in every namespace. The selectors are
set explicitly rather than left to the chart's "nil uses Helm values" defaults, so that the contract does
not silently depend on the release name; the chart's own monitors carry the same label.

Scraping the other add-ons is done here, not by their charts (whose ServiceMonitors are switched off):
every monitor needs the `monitoring.coreos.com` CRDs, and keeping them here is what lets GPU support,
KubeRay, Kueue and KServe install without waiting for monitoring. Each monitor depends on the
kube-prometheus-stack chart (`ready["monitoring"]`): CRDs and operator.

- `dcgm-exporter` (PodMonitor, namespace `gpu-system`): DCGM GPU metrics, whenever GPU support is installed
  here and the spec has a GPU pool. The exporter labels each GPU's series with the `namespace`, `pod` and
  `container` holding the GPU; with `honorLabels: false` those arrive as `exported_*`, and the metric
  relabelings turn them back into `namespace`/`pod`/`container` (dropping the exporter pod's own), so in
  PromQL `namespace` is the team using the GPU (absent for an unallocated GPU). `node` is the node name.
- `kuberay-operator` (ServiceMonitor), `ray` (PodMonitor of head and worker pods, port `metrics` 8080 that
  KubeRay adds to every Ray container, labelled `ray_io_cluster`; Ray pods are kept out of the mesh by the
  Ray builders, so this is a plain HTTP scrape).
- `kueue` (ServiceMonitor, HTTPS with the Prometheus service-account token: Kueue authorises `/metrics`
  with a SubjectAccessReview, which the chart's Prometheus ClusterRole passes).
- `kserve-controller` (ServiceMonitor, HTTPS through kube-rbac-proxy, same token). Each model service's
  predictor is scraped by the ServiceMonitor its ModelService component owns (by Service port name, labelled
  `inferenceservice`), so there is one scrape per target and it goes away with the service.

Istio: inference pods have sidecars and the mesh is STRICT mTLS, so a plaintext scrape cannot reach them.
When Istio is present Prometheus joins the mesh the way Istio documents for Prometheus: a sidecar that
intercepts no traffic (`includeInboundPorts: ""`, `includeOutboundIPRanges: ""`) and only writes the
workload certificate to a shared in-memory volume (`OUTPUT_CERTS`), mounted into Prometheus at
`/etc/prom-certs`; the `istio-mtls` scrape class uses it, and monitors of in-mesh pods name that class.
Prometheus is then `cluster.local/ns/monitoring/sa/kube-prometheus-stack-prometheus`, the identity the
Istio add-on's `allow-prometheus-scrape` policy admits. Because the sidecar is added at pod admission, the
chart waits for istiod when Istio is installed by this stack (`MonitoringArgs.after`). That edge puts
istiod (~90 s) on the prod critical path (benchmarks/README.md, "Time to ready"); it is kept because a
Prometheus pod admitted before the injector exists runs without its sidecar, and so without certificates,
until someone restarts it. Narrower gates were considered and do not work: a transform on the chart that
adds istiod to the `Prometheus` object's `dependsOn` is recorded by the engine but not waited for (waiting
is the SDK's job; pulumi v3.259.0 pkg/resource/deploy/source_eval.go only rebuilds the dependency list),
and the chart's other objects are not reachable from this program before the whole chart is ready.

Helm hooks: helm.v4.Chart runs none, so the chart's admission-webhook certificate jobs never run. The
PrometheusRule admission webhook is therefore disabled, and with it the operator's TLS listener, which
mounts the certificate those jobs would have created (otherwise the operator pod waits for that Secret
forever; prometheus-community/helm-charts#6586). PrometheusRules are validated against the CRD offline by
the tests instead. The CRDs come from the `crds` subchart's `crds/` and are applied server-side (they are
too large for client-side apply) and upgraded with the chart.

On EKS the control-plane components (controller manager, scheduler, etcd) and kube-proxy cannot be
scraped; their monitors are off, otherwise their "down" alerts would fire for ever.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml

from components.addons.charts import CHARTS
from components.addons.gpu import DCGM_EXPORTER_POD_LABELS, DCGM_EXPORTER_PORT, GpuMode
from components.addons.helm_chart import InstallSettings, addon_namespace, install_chart
from components.addons.istio import principal
from components.addons.kserve import KSERVE_CONTROLLER_METRICS_LABELS, KSERVE_METRICS_PORT
from components.addons.kuberay import KUBERAY_METRICS_PORT, KUBERAY_OPERATOR_NAME
from components.addons.kueue import KUEUE_METRICS_PORT, KUEUE_METRICS_SERVICE_LABELS
from components.addons.objects import Manifest, custom_resource
from components.names import (
    GPU_NAMESPACE,
    GRAFANA_DASHBOARD_LABEL,
    KSERVE_NAMESPACE,
    KUBERAY_NAMESPACE,
    KUEUE_NAMESPACE,
    MONITOR_LABELS,
    MONITORING_NAMESPACE,
    PROMETHEUS_RELEASE,
    recommended_labels,
)

MONITORING_API = "monitoring.coreos.com/v1"
PROMETHEUS_SERVICE_ACCOUNT = f"{PROMETHEUS_RELEASE}-prometheus"
PROMETHEUS_PRINCIPAL = principal(MONITORING_NAMESPACE, PROMETHEUS_SERVICE_ACCOUNT)
GRAFANA_DASHBOARD_VALUE = "1"
DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "dashboards"

# Prometheus in the mesh (see the module doc).
ISTIO_MTLS_SCRAPE_CLASS = "istio-mtls"
ISTIO_CERTS_VOLUME = "istio-certs"
ISTIO_OUTPUT_CERTS = "/etc/istio-output-certs"
PROMETHEUS_CERTS = "/etc/prom-certs"

SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"  # noqa: S105 - a path, not a secret
RAY_NODE_TYPE_LABEL = "ray.io/node-type"
RAY_METRICS_PORT = "metrics"

# Which dashboards/<name>.json ship, and the add-on that has to be present for it.
DASHBOARDS = {"gpu": "gpu", "ray": "kuberay", "kserve": "kserve", "kueue": "kueue"}


# ------------------------------------------------------------------------------------------- chart values


def prometheus_mesh_settings() -> dict[str, Any]:
    """prometheusSpec settings that put Prometheus in the mesh as a certificate holder only."""
    return {
        "podMetadata": {
            "labels": {"sidecar.istio.io/inject": "true"},
            "annotations": {
                "traffic.sidecar.istio.io/includeInboundPorts": "",
                "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
                "proxy.istio.io/config": yaml.safe_dump({"proxyMetadata": {"OUTPUT_CERTS": ISTIO_OUTPUT_CERTS}}),
                "sidecar.istio.io/userVolumeMount": json.dumps(
                    [{"name": ISTIO_CERTS_VOLUME, "mountPath": ISTIO_OUTPUT_CERTS}]
                ),
            },
        },
        "volumes": [{"name": ISTIO_CERTS_VOLUME, "emptyDir": {"medium": "Memory"}}],
        "volumeMounts": [{"name": ISTIO_CERTS_VOLUME, "mountPath": PROMETHEUS_CERTS, "readOnly": True}],
        "scrapeClasses": [{
            "name": ISTIO_MTLS_SCRAPE_CLASS,
            "tlsConfig": {
                "caFile": f"{PROMETHEUS_CERTS}/root-cert.pem",
                "certFile": f"{PROMETHEUS_CERTS}/cert-chain.pem",
                "keyFile": f"{PROMETHEUS_CERTS}/key.pem",
                # Istio certificates name SPIFFE identities, not pod host names; the chain is still checked.
                "insecureSkipVerify": True,
            },
        }],
    }


def kube_prometheus_stack_values(retention: str, grafana: bool, mesh: bool) -> dict[str, Any]:
    selector = {"matchLabels": dict(MONITOR_LABELS)}
    prometheus_spec: dict[str, Any] = {
        "retention": retention,
        "serviceMonitorSelectorNilUsesHelmValues": False,
        "serviceMonitorSelector": selector,
        "serviceMonitorNamespaceSelector": {},
        "podMonitorSelectorNilUsesHelmValues": False,
        "podMonitorSelector": selector,
        "podMonitorNamespaceSelector": {},
        "ruleSelectorNilUsesHelmValues": False,
        "ruleSelector": selector,
        "ruleNamespaceSelector": {},
    }
    if mesh:
        prometheus_spec.update(prometheus_mesh_settings())
    values: dict[str, Any] = {
        "crds": {"enabled": True},
        "prometheusOperator": {"admissionWebhooks": {"enabled": False}, "tls": {"enabled": False}},
        "prometheus": {"serviceAccount": {"name": PROMETHEUS_SERVICE_ACCOUNT}, "prometheusSpec": prometheus_spec},
        "grafana": {"enabled": grafana},
        "kubeControllerManager": {"enabled": False},
        "kubeScheduler": {"enabled": False},
        "kubeEtcd": {"enabled": False},
        "kubeProxy": {"enabled": False},
    }
    if grafana:
        values["grafana"]["sidecar"] = {"dashboards": {
            "enabled": True, "label": GRAFANA_DASHBOARD_LABEL, "labelValue": GRAFANA_DASHBOARD_VALUE,
            "searchNamespace": "ALL",
        }}
    return values


# ------------------------------------------------------------------------------------------- monitors


def _metadata(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": MONITORING_NAMESPACE,
            "labels": {**recommended_labels(name, "monitoring"), **MONITOR_LABELS}}


def dcgm_pod_monitor(mode: GpuMode) -> Manifest:
    return {"apiVersion": MONITORING_API, "kind": "PodMonitor", "metadata": _metadata("dcgm-exporter"), "spec": {
        "namespaceSelector": {"matchNames": [GPU_NAMESPACE]},
        "selector": {"matchLabels": dict(DCGM_EXPORTER_POD_LABELS[mode])},
        "podMetricsEndpoints": [{
            "port": DCGM_EXPORTER_PORT,
            "path": "/metrics",
            "interval": "15s",
            "honorLabels": False,
            "relabelings": [
                {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"},
            ],
            "metricRelabelings": [
                {"action": "labeldrop", "regex": "namespace|pod|container"},
                {"action": "labelmap", "regex": "exported_(namespace|pod|container)", "replacement": "$1"},
                {"action": "labeldrop", "regex": "exported_(namespace|pod|container)"},
            ],
        }],
    }}


def kuberay_operator_service_monitor() -> Manifest:
    return {"apiVersion": MONITORING_API, "kind": "ServiceMonitor", "metadata": _metadata("kuberay-operator"), "spec": {
        "namespaceSelector": {"matchNames": [KUBERAY_NAMESPACE]},
        "selector": {"matchLabels": {"app.kubernetes.io/name": KUBERAY_OPERATOR_NAME}},
        "endpoints": [{"port": KUBERAY_METRICS_PORT, "path": "/metrics", "interval": "30s"}],
    }}


def ray_pod_monitor() -> Manifest:
    """Head and worker pods of every Ray cluster (not in the mesh: plain HTTP)."""
    return {"apiVersion": MONITORING_API, "kind": "PodMonitor", "metadata": _metadata("ray"), "spec": {
        "namespaceSelector": {"any": True},
        "selector": {"matchExpressions": [
            {"key": RAY_NODE_TYPE_LABEL, "operator": "In", "values": ["head", "worker"]},
        ]},
        "podMetricsEndpoints": [{
            "port": RAY_METRICS_PORT,
            "path": "/metrics",
            "interval": "30s",
            "relabelings": [
                {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_label_ray_io_cluster"],
                 "targetLabel": "ray_io_cluster"},
                {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_label_ray_io_node_type"],
                 "targetLabel": "ray_io_node_type"},
            ],
        }],
    }}


def _authorised_https(port: str) -> dict[str, Any]:
    return {"port": port, "path": "/metrics", "scheme": "https", "interval": "30s",
            "bearerTokenFile": SERVICE_ACCOUNT_TOKEN, "tlsConfig": {"insecureSkipVerify": True}}


def kueue_service_monitor() -> Manifest:
    return {"apiVersion": MONITORING_API, "kind": "ServiceMonitor", "metadata": _metadata("kueue"), "spec": {
        "namespaceSelector": {"matchNames": [KUEUE_NAMESPACE]},
        "selector": {"matchLabels": dict(KUEUE_METRICS_SERVICE_LABELS)},
        "endpoints": [_authorised_https(KUEUE_METRICS_PORT)],
    }}


def kserve_controller_service_monitor() -> Manifest:
    return {"apiVersion": MONITORING_API, "kind": "ServiceMonitor", "metadata": _metadata("kserve-controller"),
            "spec": {
                "namespaceSelector": {"matchNames": [KSERVE_NAMESPACE]},
                "selector": {"matchLabels": dict(KSERVE_CONTROLLER_METRICS_LABELS)},
                "endpoints": [_authorised_https(KSERVE_METRICS_PORT)],
            }}


def gpu_rules() -> Manifest:
    """Recording rules the GPU dashboard's team view uses, and alerts on the exporter and on GPU faults."""
    return {"apiVersion": MONITORING_API, "kind": "PrometheusRule", "metadata": _metadata("gpu"), "spec": {"groups": [
        {"name": "gpuplat.gpu.recording", "rules": [
            {"record": "namespace:dcgm_gpu_utilization:avg",
             "expr": 'avg by (namespace) (DCGM_FI_DEV_GPU_UTIL{namespace!=""})'},
            {"record": "namespace:dcgm_gpus_allocated:count",
             "expr": 'count by (namespace) (DCGM_FI_DEV_GPU_UTIL{namespace!=""})'},
            {"record": "node:dcgm_gpu_utilization:avg", "expr": "avg by (node) (DCGM_FI_DEV_GPU_UTIL)"},
        ]},
        {"name": "gpuplat.gpu.alerts", "rules": [
            {"alert": "DcgmExporterDown",
             "expr": f'up{{job="{MONITORING_NAMESPACE}/dcgm-exporter"}} == 0',
             "for": "10m",
             "labels": {"severity": "warning"},
             "annotations": {"summary": "DCGM exporter on {{ $labels.node }} is not scraped: no GPU metrics"}},
            {"alert": "GpuXidError",
             "expr": "DCGM_FI_DEV_XID_ERRORS > 0",
             "for": "1m",
             "labels": {"severity": "critical"},
             "annotations": {"summary": "GPU {{ $labels.gpu }} on {{ $labels.node }} reported XID {{ $value }}"}},
            {"alert": "GpuAllocatedButIdle",
             "expr": 'avg_over_time(DCGM_FI_DEV_GPU_UTIL{namespace!=""}[1h]) < 5',
             "for": "1h",
             "labels": {"severity": "info"},
             "annotations": {"summary": "{{ $labels.namespace }}/{{ $labels.pod }} has not used its GPU for an hour"}},
        ]},
    ]}}


@dataclass(frozen=True)
class Scrapes:
    """What the monitors cover. Controller monitors need the add-on installed by this stack (their
    selectors depend on our release names); workload monitors only need it present (labels set by the
    operators). `gpu_exporter` is the GPU mode when GPU support is installed here and a GPU pool exists."""

    gpu_exporter: GpuMode | None = None
    installed: frozenset[str] = frozenset()
    present: frozenset[str] = frozenset()
    mesh: bool = False


def monitors(scrapes: Scrapes) -> dict[str, Manifest]:
    """Every ServiceMonitor, PodMonitor and PrometheusRule, keyed by a stable name."""
    found: dict[str, Manifest] = {}
    if scrapes.gpu_exporter is not None:
        found["dcgm-exporter"] = dcgm_pod_monitor(scrapes.gpu_exporter)
        found["gpu-rules"] = gpu_rules()
    if "kuberay" in scrapes.installed:
        found["kuberay-operator"] = kuberay_operator_service_monitor()
    if "kuberay" in scrapes.present:
        found["ray"] = ray_pod_monitor()
    if "kueue" in scrapes.installed:
        found["kueue"] = kueue_service_monitor()
    if "kserve" in scrapes.installed:
        found["kserve-controller"] = kserve_controller_service_monitor()
    return found


# ----------------------------------------------------------------------------------------- dashboards


def dashboards(scrapes: Scrapes, directory: Path = DASHBOARD_DIR) -> dict[str, Path]:
    """The dashboard files to ship: the GPU one when DCGM is scraped, the others when their add-on is present."""
    chosen = {}
    for name, addon in DASHBOARDS.items():
        wanted = scrapes.gpu_exporter is not None if addon == "gpu" else addon in scrapes.present
        if wanted:
            chosen[name] = directory / f"{name}.json"
    return chosen


def dashboard_config_map(name: str, path: Path) -> Manifest:
    """A ConfigMap the Grafana sidecar loads (label `grafana_dashboard: "1"`, any namespace)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"grafana-dashboard-{name}", "namespace": MONITORING_NAMESPACE,
                     "labels": {**recommended_labels(f"grafana-dashboard-{name}", "monitoring"),
                                GRAFANA_DASHBOARD_LABEL: GRAFANA_DASHBOARD_VALUE}},
        "data": {path.name: path.read_text(encoding="utf-8")},
    }


# ------------------------------------------------------------------------------------------- component


@dataclass(frozen=True)
class MonitoringArgs:
    """`retention`, `grafana`: from `addons.monitoring`. `scrapes`: which add-ons to scrape and whether
    Prometheus joins the Istio mesh. `after`: what the Prometheus chart must wait for (istiod, when Istio
    is installed by this stack and Prometheus joins the mesh). `version` overrides the pinned
    kube-prometheus-stack version."""

    retention: str = "15d"
    grafana: bool = True
    scrapes: Scrapes = Scrapes()
    after: Sequence[pulumi.Resource] = field(default_factory=tuple)
    version: str | None = None
    install: InstallSettings = InstallSettings()


class Monitoring(pulumi.ComponentResource):
    """kube-prometheus-stack in `monitoring`, the add-ons' monitors and rules, and the Grafana dashboards."""

    ready: tuple[pulumi.Resource, ...]
    """What ServiceMonitors, PodMonitors and PrometheusRules wait for: the chart (CRDs + operator)."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:addons:Monitoring", name, None, opts)
        namespace = addon_namespace(f"{name}-namespace", MONITORING_NAMESPACE, "monitoring", self)
        chart = install_chart(
            f"{name}-stack", CHARTS["kube-prometheus-stack"].at(args.version), release=PROMETHEUS_RELEASE,
            namespace=MONITORING_NAMESPACE,
            values=kube_prometheus_stack_values(args.retention, args.grafana, args.scrapes.mesh),
            settings=args.install, parent=self, depends_on=[namespace, *args.after],
        )
        self.ready = (chart,)
        self.monitors = {
            key: custom_resource(f"{name}-{key}", manifest, parent=self, depends_on=self.ready)
            for key, manifest in monitors(args.scrapes).items()
        }
        self.dashboards: dict[str, k8s.core.v1.ConfigMap] = {}
        if args.grafana:
            for key, path in dashboards(args.scrapes).items():
                manifest = dashboard_config_map(key, path)
                self.dashboards[key] = k8s.core.v1.ConfigMap(
                    f"{name}-dashboard-{key}", metadata=manifest["metadata"], data=manifest["data"],
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace]),
                )
        self.register_outputs({
            "namespace": namespace.metadata.name,
            "monitors": sorted(self.monitors),
            "dashboards": sorted(self.dashboards),
        })
