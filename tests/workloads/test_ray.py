"""Ray manifests: GPU-free head, worker groups pinned to their pools, Kueue labels and webhook rules,
autoscaling only where Kueue admits it, RayJob/RayService fields and the dashboard's authorization."""

from __future__ import annotations

from typing import Any

import yaml

from components.builders import ray
from components.builders.common import Footprint
from tests.workloads.support import context, spec_of

GPU_GROUP = {"pool": "l4", "replicas": {"min": 1, "max": 3}, "resources": {"cpu": "8", "memory": "32Gi", "gpus": 2}}
CPU_GROUP = {"pool": "cpu", "replicas": {"min": 0, "max": 2}, "resources": {"cpu": "4", "memory": "8Gi"},
             "ray_start_params": {"num-cpus": "4"}}
CLUSTER: dict[str, Any] = {"team": "research", "worker_groups": {"gpu": GPU_GROUP, "cpu": CPU_GROUP}}
RESTRICTED_RAY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
    "runAsUser": 1000,
}


def _cluster(overrides: dict[str, Any] | None = None, **context_overrides: Any) -> dict[str, Any]:
    spec = spec_of(ray_clusters={"train": {**CLUSTER, **(overrides or {})}})
    return ray.ray_cluster(context(spec, **context_overrides), "train", spec.ray_clusters["train"])


def _groups(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {group["groupName"]: group for group in manifest["spec"]["workerGroupSpecs"]}


def test_gpu_worker_group_lands_on_its_pool_with_gpu_image_and_limits() -> None:
    group = _groups(_cluster())["gpu"]
    assert (group["replicas"], group["minReplicas"], group["maxReplicas"]) == (1, 1, 3)
    assert "rayStartParams" not in group
    pod = group["template"]["spec"]
    assert pod["nodeSelector"] == {"gpuplat.io/pool": "l4"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true",
                                   "effect": "NoSchedule"}]
    (container,) = pod["containers"]
    assert container["image"] == "rayproject/ray:2.49.2-py311-gpu"
    assert container["resources"] == {"requests": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": 2},
                                      "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": 2}}
    assert container["securityContext"] == RESTRICTED_RAY
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                      "runAsUser": 1000, "runAsGroup": 100, "fsGroup": 100}
    assert pod["serviceAccountName"] == "workloads" and pod["automountServiceAccountToken"] is False
    assert group["template"]["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"


def test_cpu_worker_group_has_no_tolerations_and_string_start_params() -> None:
    group = _groups(_cluster())["cpu"]
    assert group["rayStartParams"] == {"num-cpus": "4"}
    assert all(isinstance(value, str) for value in group["rayStartParams"].values())
    pod = group["template"]["spec"]
    assert pod["nodeSelector"] == {"gpuplat.io/pool": "cpu"} and "tolerations" not in pod
    assert pod["containers"][0]["image"] == "rayproject/ray:2.49.2-py311"


def test_head_has_no_gpus_and_runs_on_the_system_pool_by_default() -> None:
    head = _cluster()["spec"]["headGroupSpec"]
    assert head["rayStartParams"] == {"num-gpus": "0"}
    pod = head["template"]["spec"]
    assert pod["nodeSelector"] == {"gpuplat.io/pool": "system"} and "tolerations" not in pod
    container = pod["containers"][0]
    assert "nvidia.com/gpu" not in container["resources"]["limits"]
    assert container["image"] == "rayproject/ray:2.49.2-py311"
    assert [port["containerPort"] for port in container["ports"]] == [6379, 8265, 10001, 8080]
    moved = _cluster({"head": {"pool": "cpu"}})["spec"]["headGroupSpec"]["template"]["spec"]
    assert moved["nodeSelector"] == {"gpuplat.io/pool": "cpu"}


def test_custom_image_and_version_are_used_everywhere() -> None:
    manifest = _cluster({"image": "ghcr.io/acme/ray:2.50.0-cu12", "ray_version": "2.50.0"})
    assert manifest["spec"]["rayVersion"] == "2.50.0"
    images = {manifest["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]}
    images |= {g["template"]["spec"]["containers"][0]["image"] for g in manifest["spec"]["workerGroupSpecs"]}
    assert images == {"ghcr.io/acme/ray:2.50.0-cu12"}


def test_queued_cluster_carries_queue_and_priority_labels() -> None:
    labels = _cluster({"priority_class": "batch"})["metadata"]["labels"]
    assert labels["kueue.x-k8s.io/queue-name"] == "gpu"  # research's first LocalQueue
    assert labels["kueue.x-k8s.io/priority-class"] == "batch"
    assert _cluster({"queue": "default"})["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "default"
    unqueued = _cluster({"priority_class": "batch"}, kueue=False)["metadata"]["labels"]
    assert not {"kueue.x-k8s.io/queue-name", "kueue.x-k8s.io/priority-class"} & set(unqueued)


def test_in_tree_autoscaling_only_where_kueue_admits_it() -> None:
    assert "enableInTreeAutoscaling" not in _cluster()["spec"]
    # Not queued: the autoscaler is on, with pinned resources and the restricted security context.
    unqueued = _cluster({"autoscaling": True}, kueue=False)["spec"]
    assert unqueued["enableInTreeAutoscaling"] is True
    assert unqueued["autoscalerOptions"]["resources"] == {"requests": {"cpu": "500m", "memory": "512Mi"},
                                                          "limits": {"cpu": "500m", "memory": "512Mi"}}
    assert unqueued["autoscalerOptions"]["securityContext"] == RESTRICTED_RAY
    # The autoscaler talks to the API: KubeRay gives the head its own RBAC'd service account.
    assert "serviceAccountName" not in unqueued["headGroupSpec"]["template"]["spec"]
    # Queued and elastic: autoscaling, the elastic annotation and the scheduling gate on every template.
    elastic = _cluster({"autoscaling": True, "elastic": True})
    assert elastic["spec"]["enableInTreeAutoscaling"] is True
    assert elastic["metadata"]["annotations"] == {"kueue.x-k8s.io/elastic-job": "true"}
    templates = [elastic["spec"]["headGroupSpec"]["template"]] + [
        group["template"] for group in elastic["spec"]["workerGroupSpecs"]]
    assert all(t["spec"]["schedulingGates"] == [{"name": "kueue.x-k8s.io/elastic-job"}] for t in templates)
    # Elastic without Kueue: nothing Kueue-specific.
    plain = _cluster({"autoscaling": True, "elastic": True}, kueue=False)
    assert "annotations" not in plain["metadata"]
    assert "schedulingGates" not in plain["spec"]["headGroupSpec"]["template"]["spec"]


def test_ray_job_fields_and_kueue_suspension() -> None:
    spec = spec_of(ray_jobs={"tune": {
        "team": "ml", "entrypoint": "python tune.py", "priority_class": "batch",
        "runtime_env": {"working_dir": "s3://code/tune.zip", "pip": ["torch==2.8.0"]},
        "active_deadline_seconds": 3600, "cluster": {"worker_groups": {"gpu": GPU_GROUP}},
    }})
    manifest = ray.ray_job(context(spec), "tune", spec.ray_jobs["tune"])
    job = manifest["spec"]
    assert job["entrypoint"] == "python tune.py"
    assert isinstance(job["runtimeEnvYAML"], str)
    assert yaml.safe_load(job["runtimeEnvYAML"]) == {"working_dir": "s3://code/tune.zip", "pip": ["torch==2.8.0"]}
    assert (job["shutdownAfterJobFinishes"], job["ttlSecondsAfterFinished"], job["activeDeadlineSeconds"]) == (
        True, 3600, 3600)
    assert job["suspend"] is True and job["submissionMode"] == "K8sJobMode"
    assert "clusterSelector" not in job and "enableInTreeAutoscaling" not in job["rayClusterSpec"]
    assert manifest["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "default"
    submitter = job["submitterPodTemplate"]["spec"]
    assert submitter["restartPolicy"] == "Never" and submitter["nodeSelector"] == {"gpuplat.io/pool": "system"}
    assert submitter["containers"][0]["name"] == "ray-job-submitter"
    assert submitter["containers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    unqueued = ray.ray_job(context(spec, kueue=False), "tune", spec.ray_jobs["tune"])["spec"]
    assert "suspend" not in unqueued


def test_ray_service_serialises_the_serve_config_and_routes_the_serve_port() -> None:
    serve_config = {"applications": [{"name": "app", "import_path": "app:deployment", "route_prefix": "/"}]}
    spec = spec_of(ray_services={"chat": {"team": "ml", "serve_config": serve_config, "route": {"path": "/chat"},
                                          "cluster": {"worker_groups": {"gpu": GPU_GROUP}}}})
    ctx = context(spec)
    manifest = ray.ray_service(ctx, "chat", spec.ray_services["chat"])
    assert yaml.safe_load(manifest["spec"]["serveConfigV2"]) == serve_config
    head = manifest["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {"name": "serve", "containerPort": 8000} in head["ports"]
    route = ray.serve_virtual_service(ctx, "chat", spec.ray_services["chat"])["spec"]
    assert route["hosts"] == ["chat.ml.ml.example.com"]
    assert route["http"][0]["route"][0]["destination"] == {"host": "chat-serve-svc.ml.svc.cluster.local",
                                                             "port": {"number": 8000}}
    assert route["http"][0]["rewrite"] == {"uri": "/"}
    assert ray.serve_endpoint(ctx, "chat", spec.ray_services["chat"]) == "https://chat.ml.ml.example.com/chat"


def test_dashboard_is_routed_through_the_gateway_and_requires_a_jwt() -> None:
    ctx = context(spec_of(ray_clusters={"train": CLUSTER}))
    route = ray.dashboard_virtual_service(ctx, "train", "RayCluster", "research")
    assert route["metadata"]["namespace"] == "research-ns"
    assert route["spec"]["hosts"] == ["ray-train.research-ns.ml.example.com"]
    assert route["spec"]["gateways"] == ["istio-ingress/gpuplat-gateway"]
    assert route["spec"]["http"][0]["route"] == [{"destination": {
        "host": "train-head-svc.research-ns.svc.cluster.local", "port": {"number": 8265}}}]
    policy = ray.dashboard_authorization_policy(ctx, "train", "RayCluster", "research")
    assert policy["metadata"]["namespace"] == "istio-ingress"
    assert policy["spec"] == {
        "selector": {"matchLabels": {"istio": "ingressgateway"}},
        "action": "DENY",
        "rules": [{
            "from": [{"source": {"notRequestPrincipals": ["*"]}}],
            "to": [{"operation": {"hosts": ["ray-train.research-ns.ml.example.com",
                                            "ray-train.research-ns.ml.example.com:*"]}}],
        }],
    }


def test_cluster_footprint_at_maximum_size() -> None:
    spec = spec_of(ray_clusters={"train": {**CLUSTER, "autoscaling": True}})
    shape = spec.ray_clusters["train"]
    gib = 2**30
    expected = (Footprint(2000, 8 * gib) + ray.AUTOSCALER + Footprint(8000, 32 * gib, 2).times(3)
                + Footprint(4000, 8 * gib).times(2))
    assert ray.cluster_footprint(context(spec, kueue=False), shape) == expected
    assert ray.cluster_footprint(context(spec, kueue=False), shape, job=True) == expected + ray.SUBMITTER
