"""Kueue: job queueing and quota for batch Jobs and Ray (RayJob, RayCluster, RayService).

The controller's configuration is a YAML *string* in the chart (`managerConfig.controllerManagerConfigYaml`,
a `config.kueue.x-k8s.io/v1beta2` Configuration); there is no structured values key for it. It is built
here as Python data and serialised with `yaml.safe_dump`, replacing the chart's default string whole, so
every setting the chart default had and we keep is restated in `manager_config`.

- Integrations: `batch/job` and the three Ray kinds. Pod, Deployment and StatefulSet integrations stay off:
  they put Kueue's webhook in front of every pod of the managed namespaces. Kueue sets up an integration
  once its CRD appears, so it does not have to wait for KubeRay.
- `waitForPodsReady`: an admitted workload whose pods are not all ready within
  `addons.kueue.pods_ready_timeout_seconds` (default 600 s) is evicted and requeued with backoff, so a
  gang that cannot fully start (a GPU node that never arrives) releases its quota instead of holding it.
  `blockAdmission` stays false: one slow job must not stop every other queue.
- Certificates: Kueue's internal cert manager (the chart default), so Kueue needs no cert-manager.
- Metrics: scraped by the Monitoring add-on's ServiceMonitor; the chart's (`enablePrometheus`) stays off.
  `enableClusterQueueResources` adds the per-ClusterQueue quota and usage series the Kueue dashboard shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import yaml

from components.addons.charts import CHARTS
from components.addons.helm_chart import InstallSettings, addon_namespace, install_chart
from components.names import KUEUE_NAMESPACE

KUEUE_RELEASE = "kueue"
KUEUE_INTEGRATIONS = ("batch/job", "ray.io/rayjob", "ray.io/raycluster", "ray.io/rayservice")
# Labels of the chart's metrics Service (kueue.metricsService.labels) and its port name.
KUEUE_METRICS_SERVICE_LABELS = {"app.kubernetes.io/name": "kueue", "app.kubernetes.io/component": "metrics-service"}
KUEUE_METRICS_PORT = "https"


def manager_config(pods_ready_timeout_seconds: int) -> dict[str, Any]:
    """The Kueue Configuration (config.kueue.x-k8s.io/v1beta2); chart 0.19.2 defaults except as noted."""
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "health": {"healthProbeBindAddress": ":8081"},
        # Quota usage per ClusterQueue/flavor/resource (the Kueue dashboard); off by default.
        "metrics": {"bindAddress": ":8443", "enableClusterQueueResources": True},
        "webhook": {"port": 9443},
        "leaderElection": {"leaderElect": True, "resourceName": "c1f6bfd2.kueue.x-k8s.io"},
        "controller": {"groupKindConcurrency": {
            "Job.batch": 5,
            "Pod": 5,
            "Workload.kueue.x-k8s.io": 10,
            "LocalQueue.kueue.x-k8s.io": 5,
            "ClusterQueue.kueue.x-k8s.io": 5,
            "ResourceFlavor.kueue.x-k8s.io": 1,
        }},
        "clientConnection": {"qps": 300, "burst": 500},
        "waitForPodsReady": {
            "timeout": f"{pods_ready_timeout_seconds}s",
            "blockAdmission": False,
            "requeuingStrategy": {"timestamp": "Eviction", "backoffBaseSeconds": 60, "backoffMaxSeconds": 3600},
        },
        "integrations": {"frameworks": list(KUEUE_INTEGRATIONS)},
    }


def kueue_values(pods_ready_timeout_seconds: int) -> dict[str, Any]:
    config = manager_config(pods_ready_timeout_seconds)
    return {
        "managerConfig": {"controllerManagerConfigYaml": yaml.safe_dump(config, sort_keys=False)},
        "enablePrometheus": False,
        "enableCertManager": False,
    }


@dataclass(frozen=True)
class KueueArgs:
    """`pods_ready_timeout_seconds`: see the module doc. `version` overrides the pinned kueue chart version."""

    pods_ready_timeout_seconds: int = 600
    version: str | None = None
    install: InstallSettings = InstallSettings()


class Kueue(pulumi.ComponentResource):
    """The Kueue controller, its webhooks and the `kueue.x-k8s.io` CRDs in `kueue-system`."""

    ready: tuple[pulumi.Resource, ...]
    """What Kueue objects (ResourceFlavor, ClusterQueue, LocalQueue...) wait for: CRDs + controller/webhook."""

    def __init__(self, name: str, args: KueueArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:addons:Kueue", name, None, opts)
        namespace = addon_namespace(f"{name}-namespace", KUEUE_NAMESPACE, "kueue", self)
        controller = install_chart(
            f"{name}-controller", CHARTS["kueue"].at(args.version), release=KUEUE_RELEASE, namespace=KUEUE_NAMESPACE,
            values=kueue_values(args.pods_ready_timeout_seconds), settings=args.install, parent=self,
            depends_on=[namespace],
        )
        self.ready = (controller,)
        self.register_outputs({"namespace": namespace.metadata.name, "chart": controller})
