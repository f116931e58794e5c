"""Ray workloads: RayCluster, RayJob and RayService (`ray.io/v1`, KubeRay 1.7) and their dashboard route.

Metrics: every Ray container declares the `metrics` port (8080); the monitoring add-on's cluster-wide `ray`
PodMonitor scrapes all head and worker pods, so no per-workload monitor is created here.

Decisions (see docs/workloads.md):
- The head never gets GPUs (`num-gpus: "0"`) and runs on the system pool unless `head.pool` says otherwise;
  each worker group lands on exactly its pool through the pool's selector and tolerations.
- With Kueue present every Ray object is queued: the queue-name label (the team's first LocalQueue unless
  one is named) and the priority label go on the object; RayJobs are created suspended. In-tree autoscaling
  is only enabled where Kueue's webhook allows it: not queued, or elastic (annotation + scheduling gate).
- Ray pods run without an Istio sidecar (`sidecar.istio.io/inject: "false"`): Ray's GCS, object manager
  and NCCL use many ports that the mesh would have to be taught, and a sidecar keeps a RayJob's submitter
  Job from completing. The team NetworkPolicies confine Ray traffic to the namespace instead.
- The dashboard (port 8265) is routed through the shared gateway on `ray-<name>.<namespace>.<domain>`, and
  an AuthorizationPolicy on the gateway denies every request to that host that does not carry a validated
  JWT (`notRequestPrincipals: ["*"]`). Until the platform configures a RequestAuthentication on the gateway
  the dashboard is closed from outside (fail-closed); `kubectl port-forward` still works.
- Containers run as the Ray image's user (uid 1000, gid 100) with a read-only root filesystem; Ray writes
  only below /tmp (session, logs, runtime_env, spilling), /home/ray/.cache (pip, Hugging Face) and
  /dev/shm (object store), each an emptyDir with a size limit.
"""

from __future__ import annotations

from typing import Literal

import yaml

from components.builders.common import (
    NO_SIDECAR_LABEL,
    TEAM_SERVICE_ACCOUNT,
    Footprint,
    Manifest,
    await_annotations,
    container_resources,
    container_security_context,
    empty_dir,
    metadata,
    placement,
    pod_security_context,
    quantity_map,
    system_pool,
)
from components.builders.context import BuildContext
from components.names import (
    ELASTIC_JOB_ANNOTATION,
    GATEWAY_REF,
    INGRESS_NAMESPACE,
    INGRESS_SELECTOR,
    PRIORITY_CLASS_LABEL,
    QUEUE_NAME_LABEL,
)
from components.quantity import format_memory, memory_bytes
from components.spec.models import Queued, RayCluster, RayClusterShape, RayJob, RayService, Resources, WorkerGroup

RAY_API_VERSION = "ray.io/v1"
Kind = Literal["RayCluster", "RayJob", "RayService"]

RAY_USER = 1000  # `ray` in rayproject/ray images
RAY_GROUP = 100
GCS_PORT = 6379
DASHBOARD_PORT = 8265
CLIENT_PORT = 10001
SERVE_PORT = 8000
METRICS_PORT = 8080
DASHBOARD_AGENT_PORT = 52365  # KubeRay queries serve applications through it
ELASTIC_SCHEDULING_GATE = "kueue.x-k8s.io/elastic-job"  # kueue.ElasticJobSchedulingGate

# Sidecar and helper containers whose resources we pin (requests = limits) so quota maths stay exact.
AUTOSCALER = Footprint(500, 512 * 2**20, 0)
SUBMITTER = Footprint(500, 512 * 2**20, 0)
WAIT_GCS_INIT = Footprint(200, 256 * 2**20, 0)  # KubeRay's injected `wait-gcs-ready` init container
TMP_SIZE = "20Gi"
CACHE_SIZE = "20Gi"
SUBMITTER_CONTAINER = "ray-job-submitter"  # KubeRay's utils.SubmitterContainerName

COMPONENTS: dict[str, str] = {"RayCluster": "ray-cluster", "RayJob": "ray-job", "RayService": "ray-service"}


def ray_image(shape: RayClusterShape, gpus: int) -> str:
    """`shape.image`, else the pinned upstream image: `rayproject/ray:<version>-py311`, `-gpu` with GPUs."""
    if shape.image is not None:
        return shape.image
    return f"rayproject/ray:{shape.ray_version}-py311{'-gpu' if gpus else ''}"


def autoscaling_enabled(ctx: BuildContext, shape: RayClusterShape) -> bool:
    """Kueue's webhook rejects in-tree autoscaling on a queued cluster unless it is elastic."""
    return shape.autoscaling and (not ctx.kueue or shape.elastic)


def elastic(ctx: BuildContext, shape: RayClusterShape) -> bool:
    return ctx.kueue and shape.elastic


def head_service(name: str) -> str:
    """KubeRay's head Service: `<owner>-head-svc` for all three kinds (utils.GenerateHeadServiceName)."""
    return f"{name}-head-svc"


def serve_service(name: str) -> str:
    return f"{name}-serve-svc"


def dashboard_host(ctx: BuildContext, name: str, team: str) -> str:
    return f"ray-{name}.{ctx.namespace(team)}.{ctx.domain}"


def serve_host(ctx: BuildContext, name: str, service: RayService) -> str:
    return service.route.host or f"{name}.{ctx.namespace(service.team)}.{ctx.domain}"


def serve_endpoint(ctx: BuildContext, name: str, service: RayService) -> str:
    return f"https://{serve_host(ctx, name, service)}{service.route.path}"


# ------------------------------------------------------------------------------------- pod templates


def _volumes(resources: Resources) -> list[Manifest]:
    # The object store lives in /dev/shm; Ray sizes it at 30% of the container's memory by default.
    shm = format_memory(memory_bytes(resources.memory) // 2 // 2**20 * 2**20)
    return [empty_dir("tmp", TMP_SIZE), empty_dir("cache", CACHE_SIZE), empty_dir("dshm", shm, memory=True)]


VOLUME_MOUNTS = [
    {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - Ray's temp dir, an emptyDir
    {"name": "cache", "mountPath": "/home/ray/.cache"},
    {"name": "dshm", "mountPath": "/dev/shm"},
]


def _pod_labels(name: str, kind: str, shape: RayClusterShape) -> dict[str, str]:
    return {**metadata(name, COMPONENTS[kind], labels={"app.kubernetes.io/version": shape.ray_version})["labels"],
            **NO_SIDECAR_LABEL}


def _pod_spec(ctx: BuildContext, shape: RayClusterShape, pool: str, container: Manifest, resources: Resources,
              *, api_access: bool) -> Manifest:
    spec: Manifest = {}
    if not api_access:
        # The in-tree autoscaler needs the API: KubeRay then creates a service account with the RBAC it needs.
        spec["serviceAccountName"] = TEAM_SERVICE_ACCOUNT
        spec["automountServiceAccountToken"] = False
    spec["securityContext"] = pod_security_context(run_as_user=RAY_USER, group=RAY_GROUP)
    spec.update(placement(ctx.spec, pool))
    spec["containers"] = [container]
    spec["volumes"] = _volumes(resources)
    if elastic(ctx, shape):
        spec["schedulingGates"] = [{"name": ELASTIC_SCHEDULING_GATE}]
    return spec


def _ray_container(name: str, image: str, resources: Resources, ports: list[Manifest]) -> Manifest:
    return {
        "name": name,
        "image": image,
        # Release tags are not re-pushed; a digest in `image:` is the way to pin harder. GPU images are
        # several GB, so never re-pull on start.
        "imagePullPolicy": "IfNotPresent",
        "resources": container_resources(resources),
        "securityContext": container_security_context(read_only_root=True, run_as_user=RAY_USER),
        "ports": ports,
        "volumeMounts": [dict(mount) for mount in VOLUME_MOUNTS],
    }


def _head_pool(ctx: BuildContext, shape: RayClusterShape) -> str:
    return shape.head.pool or system_pool(ctx.spec)


def _head_group(ctx: BuildContext, name: str, kind: str, shape: RayClusterShape, *, serve: bool) -> Manifest:
    ports = [
        {"name": "gcs-server", "containerPort": GCS_PORT},
        {"name": "dashboard", "containerPort": DASHBOARD_PORT},
        {"name": "client", "containerPort": CLIENT_PORT},
        {"name": "metrics", "containerPort": METRICS_PORT},
    ]
    if serve:
        ports.append({"name": "serve", "containerPort": SERVE_PORT})
    container = _ray_container("ray-head", ray_image(shape, 0), shape.head.resources, ports)
    return {
        "serviceType": "ClusterIP",
        # The head schedules; even on a GPU node it must not offer GPUs to tasks.
        "rayStartParams": {"num-gpus": "0"},
        "template": {
            "metadata": {"labels": _pod_labels(name, kind, shape)},
            "spec": _pod_spec(ctx, shape, _head_pool(ctx, shape), container, shape.head.resources,
                              api_access=autoscaling_enabled(ctx, shape)),
        },
    }


def _worker_group(ctx: BuildContext, name: str, kind: str, shape: RayClusterShape, group_name: str,
                  group: WorkerGroup, *, serve: bool) -> Manifest:
    ports = [{"name": "metrics", "containerPort": METRICS_PORT}]
    if serve:
        ports.append({"name": "serve", "containerPort": SERVE_PORT})
    image = ray_image(shape, group.resources.gpus)
    container = _ray_container("ray-worker", image, group.resources, ports)
    worker: Manifest = {
        "groupName": group_name,
        "replicas": group.replicas.min,
        "minReplicas": group.replicas.min,
        "maxReplicas": group.replicas.max,
    }
    if group.ray_start_params:
        worker["rayStartParams"] = {key: str(value) for key, value in group.ray_start_params.items()}
    worker["template"] = {
        "metadata": {"labels": _pod_labels(name, kind, shape)},
        "spec": _pod_spec(ctx, shape, group.pool, container, group.resources, api_access=False),
    }
    return worker


def ray_cluster_spec(ctx: BuildContext, name: str, kind: Kind, shape: RayClusterShape, *,
                     serve: bool = False) -> Manifest:
    """The RayClusterSpec shared by the three kinds (`spec`, `rayClusterSpec`, `rayClusterConfig`)."""
    spec: Manifest = {"rayVersion": shape.ray_version}
    if autoscaling_enabled(ctx, shape):
        spec["enableInTreeAutoscaling"] = True
        spec["autoscalerOptions"] = {
            "upscalingMode": "Default",
            "idleTimeoutSeconds": 60,
            "imagePullPolicy": "IfNotPresent",
            "resources": {"requests": quantity_map(AUTOSCALER), "limits": quantity_map(AUTOSCALER)},
            "securityContext": container_security_context(read_only_root=True, run_as_user=RAY_USER),
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir
        }
    spec["headGroupSpec"] = _head_group(ctx, name, kind, shape, serve=serve)
    spec["workerGroupSpecs"] = [
        _worker_group(ctx, name, kind, shape, group_name, group, serve=serve)
        for group_name, group in shape.worker_groups.items()
    ]
    return spec


def _object_metadata(ctx: BuildContext, name: str, kind: Kind, workload: Queued, shape: RayClusterShape) -> Manifest:
    labels = {"app.kubernetes.io/version": shape.ray_version}
    annotations = await_annotations(ctx.skip_await)
    if ctx.kueue:
        labels[QUEUE_NAME_LABEL] = workload.queue or ctx.default_queue(workload.team)
        if workload.priority_class:
            labels[PRIORITY_CLASS_LABEL] = workload.priority_class
        if shape.elastic:
            annotations[ELASTIC_JOB_ANNOTATION] = "true"
    return metadata(name, COMPONENTS[kind], namespace=ctx.namespace(workload.team), labels=labels,
                    annotations=annotations or None)


# --------------------------------------------------------------------------------------- the kinds


def ray_cluster(ctx: BuildContext, name: str, cluster: RayCluster) -> Manifest:
    return {
        "apiVersion": RAY_API_VERSION,
        "kind": "RayCluster",
        "metadata": _object_metadata(ctx, name, "RayCluster", cluster, cluster),
        "spec": ray_cluster_spec(ctx, name, "RayCluster", cluster),
    }


def _submitter_template(ctx: BuildContext, name: str, shape: RayClusterShape) -> Manifest:
    """KubeRay fills in the `ray job submit` command; we pin identity, placement, resources and security."""
    resources = {"requests": quantity_map(SUBMITTER), "limits": quantity_map(SUBMITTER)}
    container = {
        "name": SUBMITTER_CONTAINER,
        "image": ray_image(shape, 0),
        "imagePullPolicy": "IfNotPresent",
        "resources": resources,
        "securityContext": container_security_context(read_only_root=True, run_as_user=RAY_USER),
        "volumeMounts": [dict(mount) for mount in VOLUME_MOUNTS[:2]],
    }
    return {
        "metadata": {"labels": _pod_labels(name, "RayJob", shape)},
        "spec": {
            "restartPolicy": "Never",
            "serviceAccountName": TEAM_SERVICE_ACCOUNT,
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(run_as_user=RAY_USER, group=RAY_GROUP),
            **placement(ctx.spec, _head_pool(ctx, shape)),
            "containers": [container],
            "volumes": [empty_dir("tmp", TMP_SIZE), empty_dir("cache", CACHE_SIZE)],
        },
    }


def ray_job(ctx: BuildContext, name: str, job: RayJob) -> Manifest:
    spec: Manifest = {"entrypoint": job.entrypoint}
    if job.runtime_env:
        spec["runtimeEnvYAML"] = yaml.safe_dump(job.runtime_env, sort_keys=False)
    spec["shutdownAfterJobFinishes"] = job.shutdown_after_job_finishes
    spec["ttlSecondsAfterFinished"] = job.ttl_seconds_after_finished
    if job.active_deadline_seconds is not None:
        spec["activeDeadlineSeconds"] = job.active_deadline_seconds
    spec["submissionMode"] = "K8sJobMode"
    spec["submitterPodTemplate"] = _submitter_template(ctx, name, job.cluster)
    spec["rayClusterSpec"] = ray_cluster_spec(ctx, name, "RayJob", job.cluster)
    if ctx.kueue:
        spec["suspend"] = True  # Kueue unsuspends on admission
    return {
        "apiVersion": RAY_API_VERSION,
        "kind": "RayJob",
        "metadata": _object_metadata(ctx, name, "RayJob", job, job.cluster),
        "spec": spec,
    }


def ray_service(ctx: BuildContext, name: str, service: RayService) -> Manifest:
    return {
        "apiVersion": RAY_API_VERSION,
        "kind": "RayService",
        "metadata": _object_metadata(ctx, name, "RayService", service, service.cluster),
        "spec": {
            "serveConfigV2": yaml.safe_dump(service.serve_config, sort_keys=False),
            "rayClusterConfig": ray_cluster_spec(ctx, name, "RayService", service.cluster, serve=True),
        },
    }


# ---------------------------------------------------------------------------- capacity footprint


def cluster_footprint(ctx: BuildContext, shape: RayClusterShape, *, job: bool = False) -> Footprint:
    """Requests (= limits) of the whole cluster at its maximum size, with autoscaler and submitter."""
    total = Footprint.of(shape.head.resources).at_least(WAIT_GCS_INIT)
    if autoscaling_enabled(ctx, shape):
        total = total + AUTOSCALER
    for group in shape.worker_groups.values():
        total = total + Footprint.of(group.resources).at_least(WAIT_GCS_INIT).times(group.replicas.max)
    if job:
        total = total + SUBMITTER
    return total


# ------------------------------------------------------------------------------ mesh and monitor


def dashboard_virtual_service(ctx: BuildContext, name: str, kind: Kind, team: str) -> Manifest:
    namespace = ctx.namespace(team)
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata(f"{name}-dashboard", COMPONENTS[kind], namespace=namespace, app=name),
        "spec": {
            "hosts": [dashboard_host(ctx, name, team)],
            "gateways": [GATEWAY_REF],
            "http": [{
                "name": "dashboard",
                "match": [{"uri": {"prefix": "/"}}],
                "route": [{"destination": {"host": f"{head_service(name)}.{namespace}.svc.cluster.local",
                                           "port": {"number": DASHBOARD_PORT}}}],
            }],
        },
    }


def dashboard_authorization_policy(ctx: BuildContext, name: str, kind: Kind, team: str) -> Manifest:
    """On the ingress gateway: deny requests to the dashboard host without a validated JWT."""
    dashboard = dashboard_host(ctx, name, team)
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": metadata(f"{ctx.namespace(team)}-{name}-ray-dashboard", COMPONENTS[kind],
                             namespace=INGRESS_NAMESPACE, app=name),
        "spec": {
            "selector": {"matchLabels": dict(INGRESS_SELECTOR)},
            "action": "DENY",
            "rules": [{
                "from": [{"source": {"notRequestPrincipals": ["*"]}}],
                "to": [{"operation": {"hosts": [dashboard, f"{dashboard}:*"]}}],
            }],
        },
    }


def serve_virtual_service(ctx: BuildContext, name: str, service: RayService) -> Manifest:
    """Route the RayService's host and path on the shared gateway to KubeRay's serve Service."""
    namespace = ctx.namespace(service.team)
    path = service.route.path
    http: Manifest = {
        "name": "serve",
        "route": [{"destination": {"host": f"{serve_service(name)}.{namespace}.svc.cluster.local",
                                   "port": {"number": SERVE_PORT}}}],
    }
    if path == "/":
        http["match"] = [{"uri": {"prefix": "/"}}]
    else:
        prefix = path.rstrip("/")
        http["match"] = [{"uri": {"prefix": f"{prefix}/"}}, {"uri": {"exact": prefix}}]
        http["rewrite"] = {"uri": "/"}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata(name, COMPONENTS["RayService"], namespace=namespace),
        "spec": {"hosts": [serve_host(ctx, name, service)], "gateways": [GATEWAY_REF], "http": [http]},
    }
