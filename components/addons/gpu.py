"""GPU support: make `nvidia.com/gpu` schedulable on the GPU pools and export DCGM metrics.

Two modes (`addons.gpu.mode`):

- `device-plugin` (default): the NVIDIA device plugin chart with GPU feature discovery (GFD, and the NFD
  subchart it needs), plus the DCGM exporter chart. The least machinery for EKS NVIDIA AMIs, which already
  ship the driver and the container toolkit.
- `gpu-operator`: the NVIDIA GPU operator, with its driver and toolkit containers disabled (the AMIs ship
  both; installing them again fights the host). It brings its own device plugin, GFD and DCGM exporter.

Per-pool GPU sharing: a pool's `mig_strategy` and `time_slicing_replicas` become one named device-plugin
configuration per GPU pool (`config.map` in device-plugin mode, `devicePlugin.config` in operator mode).
The device plugin's config manager picks a node's configuration from the node label
`nvidia.com/device-plugin.config` (fixed in the chart), so the nodes of each GPU pool must carry
`nvidia.com/device-plugin.config=<pool name>` (`device_plugin_config_labels`); unlabelled nodes get the
`default` configuration (no MIG, no sharing). MIG partitioning itself (the `nvidia.com/mig.config` label
and the MIG manager) is not managed here. Time-slicing applies to `nvidia.com/gpu`; under the `mixed`
MIG strategy the MIG devices (`nvidia.com/mig-*`) are not time-sliced.

DCGM metrics reach Prometheus through the `dcgm-exporter` PodMonitor of the Monitoring add-on, not the
charts' own ServiceMonitors (switched off here), so that GPU support depends on nothing and installs in
parallel with everything else.

When the spec has no GPU pool, `PlatformAddons` does not create this component: nothing is registered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import yaml

from components.addons.charts import CHARTS
from components.addons.helm_chart import InstallSettings, addon_namespace, install_chart
from components.capacity import is_gpu_pool
from components.names import DEVICE_PLUGIN_CONFIG_LABEL, GPU_NAMESPACE, GPU_RESOURCE, GPU_TAINT_KEY, POOL_LABEL
from components.spec.models import NodePool, PlatformSpec

GpuMode = Literal["device-plugin", "gpu-operator"]

DEFAULT_SHARING_CONFIG = "default"
OPERATOR_SHARING_CONFIGMAP = "gpuplat-device-plugin-config"

DEVICE_PLUGIN_RELEASE = "nvidia-device-plugin"
DCGM_EXPORTER_RELEASE = "dcgm-exporter"
GPU_OPERATOR_RELEASE = "gpu-operator"

# Pod labels of the DCGM exporter pods in each mode (the Monitoring add-on's PodMonitor selects them).
# device-plugin: the dcgm-exporter chart's selector labels; gpu-operator: assets/state-dcgm-exporter.
DCGM_EXPORTER_POD_LABELS: Mapping[GpuMode, Mapping[str, str]] = {
    "device-plugin": {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": DCGM_EXPORTER_RELEASE},
    "gpu-operator": {"app": "nvidia-dcgm-exporter"},
}
DCGM_EXPORTER_PORT = "metrics"

# GPU nodes carry `nvidia.com/gpu=true:NoSchedule` (components/pools.py); the GPU daemons must tolerate it.
GPU_TOLERATION = {"key": GPU_TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}


def gpu_pools(spec: PlatformSpec) -> dict[str, NodePool]:
    """The spec's GPU pools, by name (sorted, so that rendered values are stable)."""
    return {name: pool for name, pool in sorted(spec.node_pools.items()) if is_gpu_pool(pool)}


def _shares_or_partitions(pool: NodePool) -> bool:
    return pool.mig_strategy != "none" or pool.time_slicing_replicas is not None


def sharing_config(pool: NodePool | None) -> dict[str, Any]:
    """The device plugin configuration file (version v1) for one pool; `None` gives the default one."""
    config: dict[str, Any] = {"version": "v1", "flags": {"migStrategy": pool.mig_strategy if pool else "none"}}
    if pool is not None and pool.time_slicing_replicas is not None:
        config["sharing"] = {"timeSlicing": {
            # A pod asking for 2 replicas of a shared GPU would get two slices, maybe of the same GPU.
            "failRequestsGreaterThanOne": True,
            "resources": [{"name": GPU_RESOURCE, "replicas": pool.time_slicing_replicas}],
        }}
    return config


def sharing_configs(pools: Mapping[str, NodePool]) -> dict[str, str]:
    """Named device plugin configurations (YAML text, as the chart wants): `default` plus one per GPU pool.

    Empty when no pool uses MIG or time-slicing: then the plugin runs without its config manager.
    """
    if not any(_shares_or_partitions(pool) for pool in pools.values()):
        return {}
    configs = {DEFAULT_SHARING_CONFIG: yaml.safe_dump(sharing_config(None), sort_keys=False)}
    for name, pool in pools.items():
        configs[name] = yaml.safe_dump(sharing_config(pool), sort_keys=False)
    return configs


def device_plugin_config_labels(pools: Mapping[str, NodePool]) -> dict[str, dict[str, str]]:
    """The node label each GPU pool's nodes need so the device plugin applies that pool's configuration.

    EKS node groups and Kueue flavors get it from `components.pools.node_labels` for the pools that share
    or partition GPUs; on existing clusters the user labels the nodes."""
    if not sharing_configs(pools):
        return {}
    return {name: {DEVICE_PLUGIN_CONFIG_LABEL: name} for name in pools}


def gpu_node_affinity(pools: Mapping[str, NodePool]) -> dict[str, Any]:
    """Run on the nodes of the GPU pools only (by the pool label every node carries), nowhere else."""
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": POOL_LABEL, "operator": "In", "values": sorted(pools)}]},
    ]}}}


def device_plugin_values(pools: Mapping[str, NodePool]) -> dict[str, Any]:
    """nvidia-device-plugin chart values: plugin + GFD on the GPU pools, per-pool sharing configurations."""
    values: dict[str, Any] = {
        # GFD labels nodes with GPU product, memory, MIG and sharing facts; it brings the NFD subchart.
        "gfd": {"enabled": True},
        # The chart's default affinity needs NFD's PCI labels, which do not exist until NFD has run.
        "affinity": gpu_node_affinity(pools),
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}, GPU_TOLERATION],
        # NFD's default worker toleration expects the value "present"; our taint's value is "true".
        "nfd": {"worker": {"tolerations": [
            {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
            GPU_TOLERATION,
        ]}},
    }
    configs = sharing_configs(pools)
    if configs:
        values["config"] = {"map": configs, "default": DEFAULT_SHARING_CONFIG}
    return values


def dcgm_exporter_values(pools: Mapping[str, NodePool]) -> dict[str, Any]:
    """dcgm-exporter chart values: on the GPU pools only; its own ServiceMonitor off (see module doc)."""
    return {
        "serviceMonitor": {"enabled": False},
        "affinity": gpu_node_affinity(pools),
        "tolerations": [GPU_TOLERATION],
    }


def gpu_operator_values(pools: Mapping[str, NodePool]) -> dict[str, Any]:
    """gpu-operator chart values: drivers and toolkit from the node image, DCGM exporter on, per-pool sharing."""
    values: dict[str, Any] = {
        "driver": {"enabled": False},
        "toolkit": {"enabled": False},
        # A Helm hook job; helm.v4.Chart runs no hooks and applies the chart's CRDs itself.
        "operator": {"upgradeCRD": False},
        "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": False}},
    }
    configs = sharing_configs(pools)
    if configs:
        values["devicePlugin"] = {"config": {
            "create": True, "name": OPERATOR_SHARING_CONFIGMAP, "default": DEFAULT_SHARING_CONFIG, "data": configs,
        }}
    return values


@dataclass(frozen=True)
class GpuSupportArgs:
    """What GPU support installs. `gpu_pools` must not be empty (no GPU pool: do not create the component).

    `version` overrides the pinned version of the mode's main chart (device plugin or GPU operator),
    `dcgm_exporter_version` that of the dcgm-exporter chart (device-plugin mode only).
    """

    mode: GpuMode
    gpu_pools: Mapping[str, NodePool]
    version: str | None = None
    dcgm_exporter_version: str | None = None
    install: InstallSettings = InstallSettings()

    def __post_init__(self) -> None:
        if not self.gpu_pools:
            raise ValueError("GpuSupport needs at least one GPU pool")


class GpuSupport(pulumi.ComponentResource):
    """NVIDIA device plugin + GFD + DCGM exporter, or the GPU operator, in `gpu-system`."""

    ready: tuple[pulumi.Resource, ...]
    """What workloads asking for GPUs wait for: the chart(s) advertising `nvidia.com/gpu`."""

    def __init__(self, name: str, args: GpuSupportArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("gpuplat:addons:GpuSupport", name, None, opts)
        namespace = addon_namespace(f"{name}-namespace", GPU_NAMESPACE, "gpu", self)
        if args.mode == "gpu-operator":
            operator = install_chart(
                f"{name}-gpu-operator", CHARTS["gpu-operator"].at(args.version), release=GPU_OPERATOR_RELEASE,
                namespace=GPU_NAMESPACE, values=gpu_operator_values(args.gpu_pools), settings=args.install,
                parent=self, depends_on=[namespace],
            )
            self.ready = (operator,)
        else:
            device_plugin = install_chart(
                f"{name}-device-plugin", CHARTS["nvidia-device-plugin"].at(args.version),
                release=DEVICE_PLUGIN_RELEASE, namespace=GPU_NAMESPACE, values=device_plugin_values(args.gpu_pools),
                settings=args.install, parent=self, depends_on=[namespace],
            )
            dcgm_exporter = install_chart(
                f"{name}-dcgm-exporter", CHARTS["dcgm-exporter"].at(args.dcgm_exporter_version),
                release=DCGM_EXPORTER_RELEASE, namespace=GPU_NAMESPACE, values=dcgm_exporter_values(args.gpu_pools),
                settings=args.install, parent=self, depends_on=[namespace],
            )
            self.ready = (device_plugin, dcgm_exporter)
        self.register_outputs({
            "namespace": namespace.metadata.name, "mode": args.mode, "pools": sorted(args.gpu_pools),
        })
