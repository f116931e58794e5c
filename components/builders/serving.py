"""A model service: KServe InferenceService, its route, authorization, monitor, PDB and S3 read policy.

Decisions (see docs/workloads.md):
- Deployment mode comes from `addons.kserve.deployment_mode` and is written on every InferenceService
  (`serving.kserve.io/deploymentMode`), so the chart's cluster default (`Knative`) never decides.
- Canary, Standard mode: KServe v0.20's `spec.canary[]` (`{predictor, trafficPercent}`). It is the only
  canary KServe supports in Standard mode (its webhook rejects `spec.canary` in any other mode) and it
  runs the canary as its own Deployment and Service, `<isvc>-canary-predictor`, while the stable one stays
  `<isvc>-predictor`. KServe sizes the canary's replicas by the percentage; the exact traffic split is
  done by our VirtualService, which weights the two Services. The predictor's `canaryTrafficPercent` is
  a Knative-revision feature and is used only in Knative mode (where `spec.canary` is rejected).
- Traffic enters through the shared Istio gateway only: a VirtualService on `names.GATEWAY_REF` and an
  AuthorizationPolicy on the predictor pods that admits the gateway's identity, `allowed_namespaces` and
  Prometheus' scrape of `/metrics`.
- Model servers run with a read-only root filesystem: their caches (Hugging Face, vLLM, torch, Triton) go
  below `$HOME` and `/tmp`, so `HOME=/tmp` and an emptyDir at `/tmp` give them the only writable place.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlparse

from components.builders.common import (
    SIDECAR,
    SIDECAR_RESOURCE_ANNOTATIONS,
    Footprint,
    Manifest,
    await_annotations,
    container_resources,
    container_security_context,
    empty_dir,
    metadata,
    placement,
    pod_security_context,
)
from components.builders.context import BuildContext
from components.names import (
    GATEWAY_REF,
    INGRESS_NAMESPACE,
    INGRESS_RELEASE,
    MONITOR_LABELS,
    MONITORING_NAMESPACE,
    PROMETHEUS_RELEASE,
    model_host,
)
from components.spec.models import Container, ModelService

KSERVE_API_VERSION = "serving.kserve.io/v1beta1"
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
AUTOSCALER_CLASS_ANNOTATION = "serving.kserve.io/autoscalerClass"
ISVC_LABEL = "serving.kserve.io/inferenceservice"
COMPONENT_LABEL = "component"  # KServe's own pod label (`predictor`, `transformer`, ...)
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
S3_REGION_ANNOTATION = "serving.kserve.io/s3-region"  # read by KServe from an IRSA service account
COMPONENT = "model-service"

# KServe's runtimes listen on 8080; raw-mode Services expose port 80 in front of it (service_reconciler.go).
RUNTIME_PORT = 8080
SERVICE_PORT = 80
CANARY_NAME = "canary"
# Model servers write caches (Hugging Face, vLLM, torch, Triton) below $HOME and /tmp: with HOME=/tmp and
# an emptyDir there, the root filesystem can be read-only. KServe mounts the model itself at /mnt/models.
HOME_ENV = {"name": "HOME", "value": "/tmp"}  # noqa: S108 - an emptyDir
TMP_MOUNT = {"name": "tmp", "mountPath": "/tmp"}  # noqa: S108 - an emptyDir
TMP_SIZE = "20Gi"
SERVER_CONTAINER = "kserve-container"  # constants.InferenceServiceContainerName
# The storage-initializer init container (kserve-resources chart values `kserve.storage.resources`).
STORAGE_INITIALIZER_REQUESTS = Footprint(100, 100 * 2**20, 0)
STORAGE_INITIALIZER_LIMITS = Footprint(1000, 2**30, 0)
# HPA, KServe's autoscaler in Standard mode, scales on these metrics only (constants.AutoscalerAllowedHPAMetricsList).
HPA_METRICS = ("cpu", "memory")
GATEWAY_PRINCIPAL = f"cluster.local/ns/{INGRESS_NAMESPACE}/sa/{INGRESS_RELEASE}"
# Prometheus joins the mesh under its chart's service account and scrapes in-mesh pods with this scrape
# class (components/addons/monitoring.py; not imported here to keep the builders free of Pulumi).
PROMETHEUS_PRINCIPAL = f"cluster.local/ns/{MONITORING_NAMESPACE}/sa/{PROMETHEUS_RELEASE}-prometheus"
ISTIO_MTLS_SCRAPE_CLASS = "istio-mtls"


def predictor_service(name: str) -> str:
    """The raw-mode Service KServe creates for the stable predictor."""
    return f"{name}-predictor"


def canary_service(name: str) -> str:
    """`constants.PredictorServiceName(isvc, canary.predictor.name)`."""
    return f"{name}-{CANARY_NAME}-predictor"


def service_account_name(name: str) -> str:
    return f"{name}-model"


def host(ctx: BuildContext, name: str, service: ModelService) -> str:
    return service.route.host or model_host(name, ctx.namespace(service.team), ctx.domain)


def endpoint(ctx: BuildContext, name: str, service: ModelService) -> str:
    """The URL clients use: the gateway terminates TLS for the platform domain."""
    return f"https://{host(ctx, name, service)}{service.route.path}"


def served_port(service: ModelService) -> int:
    return service.container.port if service.container is not None else RUNTIME_PORT


def uses_hpa_metric(service: ModelService) -> bool:
    return service.scaling is not None and service.scaling.metric in HPA_METRICS


# ---------------------------------------------------------------------------------- InferenceService


def _model_container(service: ModelService, storage_uri: str) -> Manifest:
    assert service.model is not None
    model: Manifest = {"modelFormat": {"name": service.model.format}}
    if service.model.runtime:
        model["runtime"] = service.model.runtime
    if service.model.protocol_version:
        model["protocolVersion"] = service.model.protocol_version
    model["storageUri"] = storage_uri
    model["env"] = [dict(HOME_ENV)]
    model["resources"] = container_resources(service.resources)
    model["securityContext"] = container_security_context(read_only_root=True)
    model["volumeMounts"] = [dict(TMP_MOUNT)]
    return model


def _custom_container(container: Container, service: ModelService, image: str) -> Manifest:
    manifest: Manifest = {"name": SERVER_CONTAINER, "image": image}
    if container.args:
        manifest["args"] = list(container.args)
    env = {HOME_ENV["name"]: HOME_ENV["value"], **container.env}
    manifest["env"] = [{"name": key, "value": value} for key, value in env.items()]
    manifest["ports"] = [{"name": "http1", "containerPort": container.port, "protocol": "TCP"}]
    manifest["resources"] = container_resources(service.resources)
    manifest["securityContext"] = container_security_context(read_only_root=True)
    manifest["volumeMounts"] = [dict(TMP_MOUNT)]
    return manifest


def _implementation(service: ModelService, *, canary: bool) -> Manifest:
    """`model` (KServe picks the runtime) or `containers` (a custom server) for the stable or the canary."""
    if service.model is not None:
        uri = service.canary.storage_uri if canary and service.canary and service.canary.storage_uri else None
        return {"model": _model_container(service, uri or service.model.storage_uri)}
    assert service.container is not None
    image = service.canary.image if canary and service.canary and service.canary.image else None
    return {"containers": [_custom_container(service.container, service, image or service.container.image)]}


def _pod_fields(ctx: BuildContext, name: str, service: ModelService) -> Manifest:
    """The PodSpec fields KServe inlines on a component: identity, placement, security, labels."""
    labels = metadata(name, COMPONENT)["labels"]
    fields: Manifest = {
        "serviceAccountName": service_account_name(name),
        # IRSA's webhook mounts its own projected token; the API token is not needed by a model server.
        "automountServiceAccountToken": False,
        **placement(ctx.spec, service.pool),
        "securityContext": pod_security_context(),
        "volumes": [empty_dir(TMP_MOUNT["name"], TMP_SIZE)],
        "labels": labels,
    }
    if ctx.istio:
        fields["annotations"] = dict(SIDECAR_RESOURCE_ANNOTATIONS)
    return fields


def inference_service(ctx: BuildContext, name: str, service: ModelService) -> Manifest:
    """The InferenceService of one model service (serving.kserve.io/v1beta1)."""
    knative = ctx.deployment_mode == "Knative"
    predictor: Manifest = {
        **_implementation(service, canary=knative and service.canary is not None),
        **_pod_fields(ctx, name, service),
        "minReplicas": service.replicas.min,
        "maxReplicas": service.replicas.max,
    }
    if service.scaling is not None and (knative or uses_hpa_metric(service)):
        predictor["scaleMetric"] = service.scaling.metric
        predictor["scaleTarget"] = service.scaling.target
    spec: Manifest = {"predictor": predictor}
    if service.canary is not None:
        if knative:
            # Knative: the predictor is the new revision and receives `canaryTrafficPercent` of the traffic.
            predictor["canaryTrafficPercent"] = service.canary.traffic_percent
        else:
            # Standard: KServe merges this over the stable predictor; replicas are fixed (no scaling fields).
            # The canary's schema requires `model.name` (the stable predictor forbids it): it names the
            # container the model is merged into, `kserve-container`, as KServe does itself.
            # The pod fields are repeated although KServe would inherit them, so that the canary reads as
            # complete on its own (to reviewers and to policy checks of nested pod templates).
            implementation = _implementation(service, canary=True)
            if "model" in implementation:
                implementation["model"] = {"name": SERVER_CONTAINER, **implementation["model"]}
            spec["canary"] = [{
                "predictor": {"name": CANARY_NAME, **implementation, **_pod_fields(ctx, name, service),
                              "minReplicas": canary_replicas(service)},
                "trafficPercent": service.canary.traffic_percent,
            }]
    annotations = {DEPLOYMENT_MODE_ANNOTATION: ctx.deployment_mode, **await_annotations(ctx.skip_await)}
    if not knative and uses_hpa_metric(service):
        annotations[AUTOSCALER_CLASS_ANNOTATION] = "hpa"
    return {
        "apiVersion": KSERVE_API_VERSION,
        "kind": "InferenceService",
        "metadata": metadata(name, COMPONENT, namespace=ctx.namespace(service.team), annotations=annotations),
        "spec": spec,
    }


# ------------------------------------------------------------------------------ capacity footprint


def canary_replicas(service: ModelService) -> int:
    """KServe's `canaryReplicaCount`: ceil(stable minReplicas x percent / 100)."""
    if service.canary is None:
        return 0
    return math.ceil(service.replicas.min * service.canary.traffic_percent / 100)


def pod_footprint(ctx: BuildContext, service: ModelService) -> tuple[Footprint, Footprint]:
    """(requests, limits) of one predictor pod: the server, the pinned sidecar, and the storage initializer.

    An init container counts as the per-resource maximum against the app containers; the sidecar is added
    to the initializer too, because with native sidecars (an init container that keeps running) it is.
    """
    sidecar = SIDECAR if ctx.istio else Footprint()
    app = Footprint.of(service.resources) + sidecar
    if service.model is None:
        return app, app
    return (app.at_least(STORAGE_INITIALIZER_REQUESTS + sidecar),
            app.at_least(STORAGE_INITIALIZER_LIMITS + sidecar))


def max_pods(service: ModelService) -> int:
    """Most pods a service can run: max replicas, the canary's, and one rolling-update surge pod."""
    return service.replicas.max + canary_replicas(service) + 1


# --------------------------------------------------------------------------------- mesh and monitor


def virtual_service(ctx: BuildContext, name: str, service: ModelService) -> Manifest:
    """Route `host` + `path` on the shared gateway to the predictor Service(s); a canary gets its weight."""
    namespace = ctx.namespace(service.team)
    path = service.route.path

    def destination(service_name: str, weight: int | None) -> Manifest:
        route: Manifest = {"destination": {"host": f"{service_name}.{namespace}.svc.cluster.local",
                                           "port": {"number": SERVICE_PORT}}}
        if weight is not None:
            route["weight"] = weight
        return route

    if service.canary is not None and ctx.deployment_mode == "Standard":
        percent = service.canary.traffic_percent
        routes = [destination(predictor_service(name), 100 - percent), destination(canary_service(name), percent)]
    else:
        routes = [destination(predictor_service(name), None)]
    http: Manifest = {"name": name, "route": routes}
    if path == "/":
        http["match"] = [{"uri": {"prefix": "/"}}]
    else:
        prefix = path.rstrip("/")
        http["match"] = [{"uri": {"prefix": f"{prefix}/"}}, {"uri": {"exact": prefix}}]
        http["rewrite"] = {"uri": "/"}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": metadata(name, COMPONENT, namespace=namespace),
        "spec": {"hosts": [host(ctx, name, service)], "gateways": [GATEWAY_REF], "http": [http]},
    }


def authorization_policy(ctx: BuildContext, name: str, service: ModelService) -> Manifest:
    """ALLOW on the predictor pods (stable and canary): the gateway's identity, the allowed namespaces, and
    Prometheus (in the mesh as a certificate holder) reading `/metrics`. The mesh is STRICT mTLS with a
    root `deny-all`, so nothing else reaches the pods."""
    rules: list[Manifest] = [{"from": [{"source": {"principals": [GATEWAY_PRINCIPAL]}}]}]
    if service.allowed_namespaces:
        rules.append({"from": [{"source": {"namespaces": list(service.allowed_namespaces)}}]})
    if ctx.monitoring:
        rules.append({
            "from": [{"source": {"principals": [PROMETHEUS_PRINCIPAL]}}],
            "to": [{"operation": {"methods": ["GET"], "paths": ["/metrics"], "ports": [str(served_port(service))]}}],
        })
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": metadata(name, COMPONENT, namespace=ctx.namespace(service.team)),
        "spec": {"selector": {"matchLabels": {ISVC_LABEL: name}}, "action": "ALLOW", "rules": rules},
    }


def metrics_ports(ctx: BuildContext, name: str, service: ModelService) -> list[str]:
    """Names of the predictor Services' ports. KServe names the port after the Service when the runtime
    declares no container port (its runtimes do not), else after the container's first port."""
    if service.container is not None:
        return ["http1"]
    ports = [predictor_service(name)]
    if service.canary is not None and ctx.deployment_mode == "Standard":
        ports.append(canary_service(name))
    return ports


def service_monitor(ctx: BuildContext, name: str, service: ModelService) -> Manifest:
    """Scrape `/metrics` of the predictor Services (stable and canary) by Service port name.

    Selecting by port name works although KServe's runtimes declare no container port (a PodMonitor, or a
    ServiceMonitor `targetPort`, drops targets whose port is not declared). With Istio the pods only accept
    mutual TLS: the scrape uses the `istio-mtls` scrape class the monitoring add-on defines.
    """
    endpoints: list[Manifest] = []
    for port in metrics_ports(ctx, name, service):
        endpoint: Manifest = {"port": port, "path": "/metrics", "interval": "30s", "relabelings": [
            # The KServe dashboard groups by `inferenceservice`.
            {"action": "replace", "targetLabel": "inferenceservice",
             "sourceLabels": ["__meta_kubernetes_service_label_serving_kserve_io_inferenceservice"]}]}
        if ctx.istio:
            endpoint["scheme"] = "https"
        endpoints.append(endpoint)
    spec: Manifest = {"selector": {"matchLabels": {ISVC_LABEL: name, COMPONENT_LABEL: "predictor"}},
                      "endpoints": endpoints}
    if ctx.istio:
        spec["scrapeClass"] = ISTIO_MTLS_SCRAPE_CLASS
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(name, COMPONENT, namespace=ctx.namespace(service.team), labels=dict(MONITOR_LABELS)),
        "spec": spec,
    }


def pod_disruption_budget(ctx: BuildContext, name: str, service: ModelService) -> Manifest | None:
    """Only when more than one replica must run: at most one predictor pod drained at a time."""
    if service.replicas.min <= 1:
        return None
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(name, COMPONENT, namespace=ctx.namespace(service.team)),
        "spec": {"maxUnavailable": 1,
                 "selector": {"matchLabels": {ISVC_LABEL: name, COMPONENT_LABEL: "predictor"}}},
    }


def service_account(ctx: BuildContext, name: str, service: ModelService, *, irsa: bool) -> Manifest:
    """The predictor's identity. With IRSA the role ARN annotation is added by the component (an output)."""
    annotations: dict[str, str] = {}
    if irsa and ctx.spec.cluster.eks is not None:
        annotations[S3_REGION_ANNOTATION] = ctx.spec.cluster.eks.region
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(service_account_name(name), COMPONENT, namespace=ctx.namespace(service.team),
                             annotations=annotations or None),
        "automountServiceAccountToken": False,
    }


# ------------------------------------------------------------------------------------------ IAM


def s3_locations(service: ModelService) -> list[tuple[str, str]]:
    """(bucket, prefix) of every s3:// URI the service reads: the model and the canary's."""
    uris = [service.model.storage_uri] if service.model else []
    if service.canary is not None and service.canary.storage_uri:
        uris.append(service.canary.storage_uri)
    locations = []
    for uri in uris:
        parsed = urlparse(uri)
        if parsed.scheme == "s3":
            location = (parsed.netloc, parsed.path.strip("/"))
            if location not in locations:
                locations.append(location)
    return locations


def irsa_trust_policy(provider_arn: str, issuer: str, namespace: str, service_account: str) -> dict[str, Any]:
    """Only this namespace's service account, with the STS audience, may assume the role."""
    issuer = issuer.removeprefix("https://")
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": {
                f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                f"{issuer}:aud": "sts.amazonaws.com",
            }},
        }],
    }


def model_read_policy(locations: list[tuple[str, str]], partition: str = "aws") -> dict[str, Any]:
    """Read exactly the model prefixes: GetObject below each prefix, ListBucket limited to the prefix."""
    statements: list[dict[str, Any]] = []
    for index, (bucket, prefix) in enumerate(locations):
        objects = f"arn:{partition}:s3:::{bucket}/{prefix}/*" if prefix else f"arn:{partition}:s3:::{bucket}/*"
        statements.append({"Sid": f"ReadModel{index}", "Effect": "Allow", "Action": ["s3:GetObject"],
                           "Resource": [objects]})
        listing: dict[str, Any] = {"Sid": f"ListModel{index}", "Effect": "Allow", "Action": ["s3:ListBucket"],
                                   "Resource": [f"arn:{partition}:s3:::{bucket}"]}
        if prefix:
            listing["Condition"] = {"StringLike": {"s3:prefix": [prefix, f"{prefix}/*"]}}
        statements.append(listing)
    return {"Version": "2012-10-17", "Statement": statements}
