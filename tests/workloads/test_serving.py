"""Model-service manifests: the InferenceService, its route, authorization, monitor, PDB and S3 access."""

from __future__ import annotations

from typing import Any

import pytest

from components.builders import serving
from components.builders.common import Footprint
from components.spec.models import ModelService
from tests.workloads.support import ISSUER, PROVIDER_ARN, context, spec_of

LLM: dict[str, Any] = {
    "team": "ml",
    "pool": "l4",
    "model": {"format": "huggingface", "storage_uri": "s3://models/llama/v1"},
    "resources": {"cpu": "8", "memory": "40Gi", "gpus": 1},
    "replicas": {"min": 2, "max": 4},
    "scaling": {"metric": "cpu", "target": 70},
}
RECOMMENDED = {
    "app.kubernetes.io/name": "llm",
    "app.kubernetes.io/instance": "llm",
    "app.kubernetes.io/component": "model-service",
    "app.kubernetes.io/part-of": "gpuplat",
    "app.kubernetes.io/managed-by": "pulumi",
}
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
POD_FIELDS = {
    "serviceAccountName": "llm-model",
    "automountServiceAccountToken": False,
    "nodeSelector": {"gpuplat.io/pool": "l4"},
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}],
    "labels": RECOMMENDED,
    "annotations": {
        "sidecar.istio.io/proxyCPU": "100m",
        "sidecar.istio.io/proxyCPULimit": "100m",
        "sidecar.istio.io/proxyMemory": "128Mi",
        "sidecar.istio.io/proxyMemoryLimit": "128Mi",
    },
}
GPU_RESOURCES = {"requests": {"cpu": "8", "memory": "40Gi", "nvidia.com/gpu": 1},
                 "limits": {"cpu": "8", "memory": "40Gi", "nvidia.com/gpu": 1}}


def _service(**changes: Any) -> ModelService:
    return ModelService.model_validate({**LLM, **changes})


def _context(service: ModelService, **overrides: Any):  # noqa: ANN202 - BuildContext
    return context(spec_of(model_services={"llm": service.model_dump(exclude_none=True)}), **overrides)


def test_inference_service_exact_shape_in_standard_mode() -> None:
    service = _service()
    manifest = serving.inference_service(_context(service), "llm", service)
    assert manifest == {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": "llm",
            "namespace": "ml",
            "labels": RECOMMENDED,
            "annotations": {"serving.kserve.io/deploymentMode": "Standard",
                            "serving.kserve.io/autoscalerClass": "hpa"},
        },
        "spec": {"predictor": {
            "model": {
                "modelFormat": {"name": "huggingface"},
                "storageUri": "s3://models/llama/v1",
                "env": [{"name": "HOME", "value": "/tmp"}],
                "resources": GPU_RESOURCES,
                "securityContext": RESTRICTED,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            },
            **POD_FIELDS,
            "minReplicas": 2,
            "maxReplicas": 4,
            "scaleMetric": "cpu",
            "scaleTarget": 70,
        }},
    }


def test_runtime_and_protocol_are_passed_through_and_cpu_pools_get_no_tolerations() -> None:
    service = _service(pool="cpu", resources={"cpu": "2", "memory": "4Gi"},
                       model={"format": "sklearn", "storage_uri": "gs://bucket/iris", "runtime": "kserve-sklearnserver",
                              "protocol_version": "v2"})
    predictor = serving.inference_service(_context(service, istio=False), "llm", service)["spec"]["predictor"]
    assert predictor["model"]["runtime"] == "kserve-sklearnserver"
    assert predictor["model"]["protocolVersion"] == "v2"
    assert predictor["model"]["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert predictor["nodeSelector"] == {"gpuplat.io/pool": "cpu"} and "tolerations" not in predictor
    assert "annotations" not in predictor  # no sidecar to size without Istio


def test_deployment_mode_follows_the_kserve_addon() -> None:
    service = _service()
    ctx = context(spec_of(addons={"kserve": {"deployment_mode": "Knative"}}))
    assert serving.inference_service(ctx, "llm", service)["metadata"]["annotations"] == {
        "serving.kserve.io/deploymentMode": "Knative"}


def test_concurrency_scaling_is_sent_only_in_knative_mode() -> None:
    service = _service(scaling={"metric": "concurrency", "target": 8})
    ctx = _context(service)
    predictor = serving.inference_service(ctx, "llm", service)["spec"]["predictor"]
    assert "scaleMetric" not in predictor and "scaleTarget" not in predictor
    knative = context(spec_of(addons={"kserve": {"deployment_mode": "Knative"}}))
    predictor = serving.inference_service(knative, "llm", service)["spec"]["predictor"]
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("concurrency", 8)


def test_standard_canary_uses_spec_canary_and_the_route_splits_by_weight() -> None:
    service = _service(canary={"traffic_percent": 20, "storage_uri": "s3://models/llama/v2"})
    ctx = _context(service)
    manifest = serving.inference_service(ctx, "llm", service)
    assert "canaryTrafficPercent" not in manifest["spec"]["predictor"]
    assert manifest["spec"]["predictor"]["model"]["storageUri"] == "s3://models/llama/v1"
    (canary,) = manifest["spec"]["canary"]
    # Complete on its own: same identity, placement and security as the stable predictor, fixed replicas.
    assert canary == {
        "predictor": {
            "name": "canary",
            "model": {
                "name": "kserve-container",
                "modelFormat": {"name": "huggingface"},
                "storageUri": "s3://models/llama/v2",
                "env": [{"name": "HOME", "value": "/tmp"}],
                "resources": GPU_RESOURCES,
                "securityContext": RESTRICTED,
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
            },
            **POD_FIELDS,
            "minReplicas": 1,  # ceil(2 x 20%)
        },
        "trafficPercent": 20,
    }
    assert not {"maxReplicas", "scaleMetric", "scaleTarget", "autoScaling"} & set(canary["predictor"])
    route = serving.virtual_service(ctx, "llm", service)["spec"]["http"][0]["route"]
    assert route == [
        {"destination": {"host": "llm-predictor.ml.svc.cluster.local", "port": {"number": 80}}, "weight": 80},
        {"destination": {"host": "llm-canary-predictor.ml.svc.cluster.local", "port": {"number": 80}}, "weight": 20},
    ]


def test_knative_canary_uses_the_revision_split_on_the_predictor() -> None:
    service = _service(canary={"traffic_percent": 10, "storage_uri": "s3://models/llama/v2"})
    ctx = context(spec_of(addons={"kserve": {"deployment_mode": "Knative"}}))
    spec = serving.inference_service(ctx, "llm", service)["spec"]
    assert "canary" not in spec
    assert spec["predictor"]["canaryTrafficPercent"] == 10
    assert spec["predictor"]["model"]["storageUri"] == "s3://models/llama/v2"
    assert len(serving.virtual_service(ctx, "llm", service)["spec"]["http"][0]["route"]) == 1


def test_custom_container_service() -> None:
    service = _service(model=None, container={"image": "ghcr.io/acme/server:1.2.3", "args": ["--port", "9000"],
                                              "env": {"MODE": "fast"}, "port": 9000},
                       canary={"traffic_percent": 5, "image": "ghcr.io/acme/server:1.3.0"})
    spec = serving.inference_service(_context(service), "llm", service)["spec"]
    (container,) = spec["predictor"]["containers"]
    assert container == {
        "name": "kserve-container",
        "image": "ghcr.io/acme/server:1.2.3",
        "args": ["--port", "9000"],
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "MODE", "value": "fast"}],
        "ports": [{"name": "http1", "containerPort": 9000, "protocol": "TCP"}],
        "resources": GPU_RESOURCES,
        "securityContext": RESTRICTED,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    assert spec["canary"][0]["predictor"]["containers"][0]["image"] == "ghcr.io/acme/server:1.3.0"
    assert [e["port"] for e in serving.service_monitor(_context(service), "llm", service)["spec"]["endpoints"]] == [
        "http1"]


def test_virtual_service_on_the_shared_gateway_with_default_host() -> None:
    service = _service()
    assert serving.virtual_service(_context(service), "llm", service) == {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "llm", "namespace": "ml", "labels": RECOMMENDED},
        "spec": {
            "hosts": ["llm.ml.ml.example.com"],
            "gateways": ["istio-ingress/gpuplat-gateway"],
            "http": [{
                "name": "llm",
                "route": [{"destination": {"host": "llm-predictor.ml.svc.cluster.local", "port": {"number": 80}}}],
                "match": [{"uri": {"prefix": "/"}}],
            }],
        },
    }
    assert serving.endpoint(_context(service), "llm", service) == "https://llm.ml.ml.example.com/"


def test_a_path_route_strips_its_prefix() -> None:
    service = _service(route={"host": "api.example.com", "path": "/llm/"})
    http = serving.virtual_service(_context(service), "llm", service)["spec"]["http"][0]
    assert http["match"] == [{"uri": {"prefix": "/llm/"}}, {"uri": {"exact": "/llm"}}]
    assert http["rewrite"] == {"uri": "/"}
    assert serving.endpoint(_context(service), "llm", service) == "https://api.example.com/llm/"


def test_authorization_admits_the_gateway_the_allowed_namespaces_and_prometheus() -> None:
    service = _service(allowed_namespaces=["research-ns"])
    policy = serving.authorization_policy(_context(service), "llm", service)
    assert policy["spec"] == {
        "selector": {"matchLabels": {"serving.kserve.io/inferenceservice": "llm"}},
        "action": "ALLOW",
        "rules": [
            {"from": [{"source": {"principals": ["cluster.local/ns/istio-ingress/sa/istio-ingressgateway"]}}]},
            {"from": [{"source": {"namespaces": ["research-ns"]}}]},
            {"from": [{"source": {"principals": ["cluster.local/ns/monitoring/sa/kube-prometheus-stack-prometheus"]}}],
             "to": [{"operation": {"methods": ["GET"], "paths": ["/metrics"], "ports": ["8080"]}}]},
        ],
    }
    without_monitoring = serving.authorization_policy(_context(service, monitoring=False), "llm", _service())
    assert without_monitoring["spec"]["rules"] == policy["spec"]["rules"][:1]


def test_service_monitor_scrapes_stable_and_canary_services_over_mesh_mtls() -> None:
    service = _service(canary={"traffic_percent": 10, "storage_uri": "s3://models/llama/v2"})
    monitor = serving.service_monitor(_context(service), "llm", service)
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    relabel = [{"action": "replace", "targetLabel": "inferenceservice",
                "sourceLabels": ["__meta_kubernetes_service_label_serving_kserve_io_inferenceservice"]}]
    assert monitor["spec"] == {
        "selector": {"matchLabels": {"serving.kserve.io/inferenceservice": "llm", "component": "predictor"}},
        "endpoints": [
            {"port": "llm-predictor", "path": "/metrics", "interval": "30s", "relabelings": relabel,
             "scheme": "https"},
            {"port": "llm-canary-predictor", "path": "/metrics", "interval": "30s", "relabelings": relabel,
             "scheme": "https"},
        ],
        "scrapeClass": "istio-mtls",
    }
    plain = serving.service_monitor(_context(service, istio=False), "llm", _service())["spec"]
    assert plain["endpoints"] == [{"port": "llm-predictor", "path": "/metrics", "interval": "30s",
                                   "relabelings": relabel}]
    assert "scrapeClass" not in plain


@pytest.mark.parametrize(("minimum", "expected"), [(0, False), (1, False), (2, True)])
def test_disruption_budget_only_when_more_than_one_replica_must_run(minimum: int, expected: bool) -> None:
    service = _service(replicas={"min": minimum, "max": 4})
    budget = serving.pod_disruption_budget(_context(service), "llm", service)
    assert (budget is not None) == expected
    if budget is not None:
        assert budget["spec"]["maxUnavailable"] == 1  # never a zero-disruption budget


def test_irsa_trust_pins_the_service_account_and_the_sts_audience() -> None:
    assert serving.irsa_trust_policy(PROVIDER_ARN, f"https://{ISSUER}", "ml", "llm-model") == {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": PROVIDER_ARN},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{ISSUER}:sub": "system:serviceaccount:ml:llm-model",
                f"{ISSUER}:aud": "sts.amazonaws.com",
            }},
        }],
    }


def test_read_policy_covers_exactly_the_model_and_canary_prefixes() -> None:
    service = _service(canary={"traffic_percent": 10, "storage_uri": "s3://other/llama/v2/"})
    locations = serving.s3_locations(service)
    assert locations == [("models", "llama/v1"), ("other", "llama/v2")]
    policy = serving.model_read_policy(locations[:1])
    assert policy == {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadModel0", "Effect": "Allow", "Action": ["s3:GetObject"],
         "Resource": ["arn:aws:s3:::models/llama/v1/*"]},
        {"Sid": "ListModel0", "Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": ["arn:aws:s3:::models"],
         "Condition": {"StringLike": {"s3:prefix": ["llama/v1", "llama/v1/*"]}}},
    ]}
    assert serving.s3_locations(_service(model={"format": "x", "storage_uri": "hf://meta/llama"})) == []


def test_pod_footprint_counts_sidecar_and_storage_initializer() -> None:
    small = _service(pool="cpu", resources={"cpu": "250m", "memory": "512Mi"}, canary=None)
    requests, limits = serving.pod_footprint(_context(small), small)
    assert requests == Footprint(350, 640 * 2**20, 0)  # server + sidecar (> the initializer's requests)
    assert limits == Footprint(1100, 2**30 + 128 * 2**20, 0)  # the storage initializer (+ native sidecar)
    canaried = _service(replicas={"min": 3, "max": 5}, canary={"traffic_percent": 50, "storage_uri": "s3://m/v2"})
    assert serving.canary_replicas(canaried) == 2 and serving.max_pods(canaried) == 5 + 2 + 1
