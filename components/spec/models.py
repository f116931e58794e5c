"""Typed models of `stacks/<env>.yaml`: the shape of the spec and the defaults, in exactly one place.

Every model forbids unknown keys and is frozen. Named collections are YAML mappings keyed by name, so
error paths read `model_services.llama.resources.gpus` and names are unique by construction. Rules that
relate one part of the spec to another live in `components/spec/rules.py`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from components.quantity import QuantityError, parse_quantity

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IMAGE_WITH_TAG = re.compile(r"^[^\s@]+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$")


def _dns_label(value: str) -> str:
    if len(value) > 63 or not DNS1123_LABEL.match(value):
        raise ValueError(f"{value!r} is not a DNS-1123 label (lower-case alphanumerics and '-', at most 63)")
    return value


def _quantity(value: object) -> str:
    try:
        parsed = parse_quantity(value)
    except QuantityError as error:
        raise ValueError(str(error)) from None
    if parsed < 0:
        raise ValueError(f"{value!r} must not be negative")
    return value if isinstance(value, str) else str(value)


def _pinned_image(value: str) -> str:
    if not IMAGE_WITH_TAG.match(value) or value.endswith(":latest"):
        raise ValueError(f"image {value!r} must be pinned to a tag other than 'latest' or to a digest")
    return value


Name = Annotated[str, AfterValidator(_dns_label)]
Quantity = Annotated[str, BeforeValidator(_quantity)]
Image = Annotated[str, AfterValidator(_pinned_image)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------- cluster


class Capacity(Strict):
    """Per-node capacity, required for instance types the catalogue does not know and for existing clusters."""

    vcpu: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    gpus: int = Field(default=0, ge=0)
    gpu_model: str = ""
    gpu_memory_gib: int = Field(default=0, ge=0)
    gpu_product: str = ""
    max_pods: int = Field(default=110, gt=0)


class Taint(Strict):
    key: str
    value: str = ""
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(Strict):
    """A group of identical nodes. GPU pools get the `nvidia.com/gpu` NoSchedule taint automatically."""

    instance_types: list[str] = []
    capacity: Capacity | None = None
    system: bool = False
    capacity_type: Literal["on_demand", "spot"] = "on_demand"
    min_nodes: int = Field(default=0, ge=0)
    desired_nodes: int | None = Field(default=None, ge=0)
    max_nodes: int = Field(ge=1)
    labels: dict[str, str] = {}
    taints: list[Taint] = []
    mig_strategy: Literal["none", "single", "mixed"] = "none"
    time_slicing_replicas: int | None = Field(default=None, ge=2)
    root_volume_gib: int = Field(default=200, ge=20)


class Vpc(Strict):
    """Create a VPC (`cidr`, `availability_zones`) or use existing private subnets (`subnet_ids`)."""

    cidr: str = "10.0.0.0/16"
    availability_zones: int = Field(default=3, ge=2, le=6)
    subnet_ids: list[str] = []


class AccessEntry(Strict):
    principal_arn: str
    policy: Literal[
        "AmazonEKSClusterAdminPolicy", "AmazonEKSAdminPolicy", "AmazonEKSEditPolicy", "AmazonEKSViewPolicy"
    ] = "AmazonEKSViewPolicy"
    namespaces: list[str] = []


class Eks(Strict):
    """EKS settings. The API endpoint is private; `public_access_cidrs` opens it to those CIDRs only."""

    region: str
    version: str = "1.34"
    vpc: Vpc = Vpc()
    public_access_cidrs: list[str] = []
    access_entries: list[AccessEntry] = []
    imds_hop_limit: Literal[1, 2] = 1
    kms_deletion_window_days: int = Field(default=30, ge=7, le=30)


class Cluster(Strict):
    mode: Literal["eks", "existing"]
    eks: Eks | None = None
    kubeconfig: str | None = None
    context: str | None = None


# ----------------------------------------------------------------------------------------- add-ons


class Addon(Strict):
    enabled: bool = True
    version: str | None = None


class GpuAddon(Addon):
    """`device-plugin`: NVIDIA device plugin + GFD + DCGM exporter charts; `gpu-operator`: the operator
    with drivers and toolkit disabled (EKS NVIDIA AMIs ship both)."""

    mode: Literal["device-plugin", "gpu-operator"] = "device-plugin"
    dcgm_exporter_version: str | None = None


class KueueAddon(Addon):
    pods_ready_timeout_seconds: int = Field(default=600, gt=0)


class KServeAddon(Addon):
    deployment_mode: Literal["Standard", "Knative"] = "Standard"


class MonitoringAddon(Addon):
    retention: str = "15d"
    grafana: bool = True


class IstioAddon(Addon):
    """`https_redirect`: port 80 only redirects to HTTPS (the TLS Secret must exist); turn it off where there
    is no certificate, e.g. on a laptop."""

    domain: str = "ml.example.com"
    https_redirect: bool = True


class Addons(Strict):
    gpu: GpuAddon = GpuAddon()
    kuberay: Addon = Addon()
    kueue: KueueAddon = KueueAddon()
    cert_manager: Addon = Addon()
    kserve: KServeAddon = KServeAddon()
    monitoring: MonitoringAddon = MonitoringAddon()
    istio: IstioAddon = IstioAddon()
    protect_crds: bool = False


# ------------------------------------------------------------------------------------ teams, queues


class Quota(Strict):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpus: int | None = Field(default=None, ge=0)


class TeamQueue(Strict):
    """The team's Kueue ClusterQueue. Quotas per pool default to an even share of the pool's capacity."""

    cohort: Name | None = None
    borrowing_limit_percent: int | None = Field(default=None, ge=0, le=100)
    lending_limit_percent: int | None = Field(default=None, ge=0, le=100)
    quotas: dict[str, Quota] = {}


class Team(Strict):
    namespace: Name | None = None
    pools: list[str] | None = None
    local_queues: list[Name] = ["default"]
    queue: TeamQueue = TeamQueue()


class PriorityClass(Strict):
    value: int
    description: str = ""


class Queueing(Strict):
    """`per_team`: one ClusterQueue per team; `shared`: one ClusterQueue all teams' LocalQueues feed."""

    mode: Literal["per_team", "shared"] = "per_team"
    priority_classes: dict[Name, PriorityClass] = {}


# --------------------------------------------------------------------------------------- workloads


class Resources(Strict):
    """Per-pod requests; limits are set equal (Guaranteed QoS, GPU limit = request)."""

    cpu: Quantity = "1"
    memory: Quantity = "2Gi"
    gpus: int = Field(default=0, ge=0)


class Replicas(Strict):
    min: int = Field(default=1, ge=0)
    max: int = Field(default=1, ge=1)


class Scaling(Strict):
    metric: Literal["concurrency", "rps", "cpu", "memory"] = "concurrency"
    target: int = Field(gt=0)


class Model(Strict):
    format: str
    storage_uri: Annotated[str, Field(pattern=r"^(s3|gs|pvc|oci|hf)://.+")]
    runtime: str | None = None
    protocol_version: Literal["v1", "v2", "grpc-v2"] | None = None


class Container(Strict):
    image: Image
    args: list[str] = []
    env: dict[str, str] = {}
    port: int = Field(default=8080, ge=1, le=65535)


class Canary(Strict):
    traffic_percent: int = Field(ge=0, le=100)
    storage_uri: Annotated[str, Field(pattern=r"^(s3|gs|pvc|oci|hf)://.+")] | None = None
    image: Image | None = None


class Route(Strict):
    host: str | None = None
    path: str = Field(default="/", pattern=r"^/")


class ModelService(Strict):
    team: str
    pool: str
    model: Model | None = None
    container: Container | None = None
    resources: Resources = Resources()
    replicas: Replicas = Replicas()
    scaling: Scaling | None = None
    canary: Canary | None = None
    route: Route = Route()
    allowed_namespaces: list[str] = []


class RayHead(Strict):
    pool: str | None = None
    resources: Resources = Resources(cpu="2", memory="8Gi")


class WorkerGroup(Strict):
    pool: str
    replicas: Replicas = Replicas(min=0, max=1)
    resources: Resources = Resources()
    ray_start_params: dict[str, str] = {}


class RayClusterShape(Strict):
    ray_version: str = "2.49.2"
    image: Image | None = None
    head: RayHead = RayHead()
    worker_groups: dict[Name, WorkerGroup] = Field(min_length=1)
    autoscaling: bool = False
    elastic: bool = False


class Queued(Strict):
    """Kueue admission: `queue` defaults to the team's first LocalQueue when Kueue is on."""

    team: str
    queue: str | None = None
    priority_class: str | None = None


class RayCluster(Queued, RayClusterShape):
    pass


class RayJob(Queued):
    entrypoint: str
    runtime_env: dict[str, object] = {}
    cluster: RayClusterShape
    shutdown_after_job_finishes: bool = True
    ttl_seconds_after_finished: int = Field(default=3600, ge=0)
    active_deadline_seconds: int | None = Field(default=None, gt=0)


class RayService(Queued):
    serve_config: dict[str, object]
    cluster: RayClusterShape
    route: Route = Route()


class PlatformSpec(Strict):
    """Everything one environment declares. Built only by `components.spec.loader`."""

    cluster: Cluster
    node_pools: dict[Name, NodePool] = Field(min_length=1)
    addons: Addons = Addons()
    queueing: Queueing = Queueing()
    teams: dict[Name, Team] = {}
    model_services: dict[Name, ModelService] = {}
    ray_clusters: dict[Name, RayCluster] = {}
    ray_jobs: dict[Name, RayJob] = {}
    ray_services: dict[Name, RayService] = {}
