"""Fixture builders for the policy tests: a container and pod that pass every rule, the workload shapes
that nest them, and one way to run a rule through the library or through the CrossGuard SDK.

A test case patches the good container or pod (`merge`, with `DELETE` to drop a key) and places it at
a known path inside each shape, so the expected violations are written once per case as paths relative
to the target container (`{c}`) or pod (`{p}`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies.config import RuleSettings, rule_settings
from policies.engine import Engine
from policies.model import Resource
from policies.pack import resource_policy, stack_policy
from policies.registry import BY_ID

DELETE = object()
DIGEST = "sha256:" + "a" * 64
GOOD_IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/ml/app:2.40.0-py311@{DIGEST}"
GOOD_CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": GOOD_IMAGE,
    "imagePullPolicy": "IfNotPresent",
    "resources": {
        "requests": {"cpu": "1", "memory": "2Gi", "ephemeral-storage": "1Gi"},
        "limits": {"cpu": "2", "memory": "2Gi", "ephemeral-storage": "1Gi"},
    },
    "securityContext": {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}
GOOD_POD: dict[str, Any] = {
    "serviceAccountName": "app",
    "automountServiceAccountToken": False,
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
}
GPU = {"resources": {"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 1}}}
GPU_POD = {
    "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    "nodeSelector": {"gpuplat.io/pool": "gpu"},
    "priorityClassName": "training",
}
METADATA = {"name": "work", "namespace": "ml"}


def merge(base: Any, patch: Any) -> Any:
    """Deep merge of `patch` into a copy of `base`; `DELETE` removes a key (which must exist), lists are replaced."""
    if not isinstance(patch, Mapping) or not isinstance(base, Mapping):
        return copy.deepcopy(patch)
    result = copy.deepcopy(dict(base))
    for key, value in patch.items():
        if value is DELETE:
            if key not in result:
                raise KeyError(f"DELETE of absent key {key!r}")
            del result[key]
        else:
            result[key] = merge(result.get(key), value) if key in result else merge({}, value)
    return result


def pod_spec(container: Mapping[str, Any] | None = None, pod: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {**merge(GOOD_POD, pod or {}), "containers": [merge(GOOD_CONTAINER, container or {})]}


def _template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"labels": {"app": "work"}}, "spec": spec}


def _ray_cluster(head: dict[str, Any], workers: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "rayVersion": "2.40.0",
        "headGroupSpec": {"rayStartParams": {}, "template": _template(head)},
        "workerGroupSpecs": [
            {"groupName": f"group-{i}", "replicas": 1, "minReplicas": 0, "maxReplicas": 4, "template": _template(spec)}
            for i, spec in enumerate(workers)
        ],
    }


def _props(api_version: str, kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": api_version, "kind": kind, "metadata": copy.deepcopy(METADATA), "spec": spec}


@dataclass(frozen=True)
class Shape:
    """A workload kind with the target pod spec at `pod_path` (its first container at `container_path`)."""

    name: str
    token: str
    build: Callable[[dict[str, Any]], dict[str, Any]]
    pod_path: str
    container_path: str = ""

    def paths(self) -> dict[str, str]:
        return {"p": self.pod_path, "c": self.container_path or f"{self.pod_path}.containers[0]"}


def _isvc(target: dict[str, Any], key: str = "predictor") -> dict[str, Any]:
    containers = target.pop("containers")
    component = {"minReplicas": 1, "maxReplicas": 2, **target, "containers": containers}
    return _props("serving.kserve.io/v1beta1", "InferenceService", {key: component})


def _isvc_model(target: dict[str, Any]) -> dict[str, Any]:
    model = target.pop("containers")[0]
    model.pop("image")
    model["modelFormat"] = {"name": "pytorch"}
    model["storageUri"] = "s3://models/llama"
    return _props(
        "serving.kserve.io/v1beta1",
        "InferenceService",
        {"predictor": {"minReplicas": 1, "maxReplicas": 2, **target, "model": model}},
    )


SHAPES: dict[str, Shape] = {
    shape.name: shape
    for shape in (
        Shape(
            "deployment",
            "kubernetes:apps/v1:Deployment",
            lambda t: _props("apps/v1", "Deployment", {"replicas": 2, "template": _template(t)}),
            "spec.template.spec",
        ),
        Shape(
            "raycluster",
            "kubernetes:ray.io/v1:RayCluster",
            lambda t: _props("ray.io/v1", "RayCluster", _ray_cluster(pod_spec(), [pod_spec(), t])),
            "spec.workerGroupSpecs[1].template.spec",
        ),
        Shape(
            "rayjob",
            "kubernetes:ray.io/v1:RayJob",
            lambda t: _props(
                "ray.io/v1",
                "RayJob",
                {
                    "entrypoint": "python train.py",
                    "shutdownAfterJobFinishes": True,
                    "ttlSecondsAfterFinished": 600,
                    "activeDeadlineSeconds": 36000,
                    "rayClusterSpec": _ray_cluster(pod_spec(), [t]),
                    "submitterPodTemplate": _template(pod_spec()),
                },
            ),
            "spec.rayClusterSpec.workerGroupSpecs[0].template.spec",
        ),
        Shape(
            "rayservice",
            "kubernetes:ray.io/v1:RayService",
            lambda t: _props(
                "ray.io/v1",
                "RayService",
                {"serveConfigV2": "applications: []", "rayClusterConfig": _ray_cluster(t, [pod_spec()])},
            ),
            "spec.rayClusterConfig.headGroupSpec.template.spec",
        ),
        Shape("isvc", "kubernetes:serving.kserve.io/v1beta1:InferenceService", _isvc, "spec.predictor"),
        # Further shapes for the walker and selected cases.
        Shape("pod", "kubernetes:core/v1:Pod", lambda t: _props("v1", "Pod", t), "spec"),
        Shape(
            "statefulset",
            "kubernetes:apps/v1:StatefulSet",
            lambda t: _props("apps/v1", "StatefulSet", {"template": _template(t)}),
            "spec.template.spec",
        ),
        Shape(
            "daemonset",
            "kubernetes:apps/v1:DaemonSet",
            lambda t: _props("apps/v1", "DaemonSet", {"template": _template(t)}),
            "spec.template.spec",
        ),
        Shape(
            "job",
            "kubernetes:batch/v1:Job",
            lambda t: _props("batch/v1", "Job", {"template": _template(t)}),
            "spec.template.spec",
        ),
        Shape(
            "cronjob",
            "kubernetes:batch/v1:CronJob",
            lambda t: _props(
                "batch/v1", "CronJob", {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": _template(t)}}}
            ),
            "spec.jobTemplate.spec.template.spec",
        ),
        Shape(
            "rayjob-submitter",
            "kubernetes:ray.io/v1:RayJob",
            lambda t: _props(
                "ray.io/v1",
                "RayJob",
                {
                    "shutdownAfterJobFinishes": True,
                    "ttlSecondsAfterFinished": 600,
                    "activeDeadlineSeconds": 36000,
                    "rayClusterSpec": _ray_cluster(pod_spec(), [pod_spec()]),
                    "submitterPodTemplate": _template(t),
                },
            ),
            "spec.submitterPodTemplate.spec",
        ),
        Shape(
            "isvc-model",
            "kubernetes:serving.kserve.io/v1beta1:InferenceService",
            _isvc_model,
            "spec.predictor",
            "spec.predictor.model",
        ),
        Shape(
            "isvc-transformer",
            "kubernetes:serving.kserve.io/v1beta1:InferenceService",
            lambda t: _isvc(t, "transformer"),
            "spec.transformer",
        ),
        Shape(
            "isvc-canary",
            "kubernetes:serving.kserve.io/v1beta1:InferenceService",
            lambda t: _props(
                "serving.kserve.io/v1beta1",
                "InferenceService",
                {
                    "predictor": _isvc(pod_spec())["spec"]["predictor"],
                    "canary": [{"trafficPercent": 10, "predictor": _isvc(t)["spec"]["predictor"]}],
                },
            ),
            "spec.canary[0].predictor",
        ),
    )
}
WORKLOAD_SHAPES = ("deployment", "raycluster", "rayjob", "rayservice", "isvc")


def build(
    shape: str,
    container: Mapping[str, Any] | None = None,
    pod: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Resource:
    """The shape's resource with the patched good container and pod at its target path."""
    found = SHAPES[shape]
    props = found.build(pod_spec(container, pod))
    if metadata:
        props["metadata"] = merge(props["metadata"], metadata)
    return Resource(found.token, props["metadata"]["name"], props)


def resource(
    token: str,
    props: Mapping[str, Any],
    name: str = "",
    urn: str = "",
    dependencies: Mapping[str, Sequence[str]] | None = None,
) -> Resource:
    display = name or str(props.get("metadata", {}).get("name", "")) or token.rsplit(":", 1)[-1].lower()
    return Resource(token, display, dict(props), urn, dict(dependencies or {}))


def settings(rule_id: str, params: Mapping[str, Any] | None = None, **extra: Any) -> RuleSettings:
    return rule_settings(BY_ID[rule_id], {**(params or {}), **extra})


def findings(
    rule_id: str, resources: Sequence[Resource], params: Mapping[str, Any] | None = None
) -> list[tuple[str, str]]:
    """(rule, path) of every finding of one rule over the resources, through the library's engine."""
    engine = Engine({rule_id: settings(rule_id, params)}, rules={rule_id: BY_ID[rule_id]})
    return sorted((finding.rule, finding.path) for finding in engine.run(resources))


# --- the CrossGuard SDK path ------------------------------------------------------------------------------

_PATH = re.compile(r"^\S+ (?:\S+/)?\S+ (\S+): ")


def as_sdk_props(props: Mapping[str, Any]) -> Any:
    """What the SDK hands a policy: a JSON round trip (every number a float) behind unknown-checking proxies."""
    return unknown_checking_proxy(json.loads(json.dumps(props), parse_int=float))


def options() -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def urn_of(item: Resource) -> str:
    return item.urn or f"urn:pulumi:test::gpuplat::{item.type}::{item.name}"


def sdk_findings(
    rule_id: str, resources: Sequence[Resource], params: Mapping[str, Any] | None = None
) -> list[tuple[str, str]]:
    """The same as `findings`, but through the pack's policies called with SDK argument objects."""
    rule = BY_ID[rule_id]
    config = dict(params or {})
    reported: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        reported.append(message)

    if rule.is_stack:
        policy_resources = [
            PolicyResource(r.type, as_sdk_props(r.props), urn_of(r), r.name, options(), None, None, [], {})
            for r in resources
        ]
        stack_policy(rule).validate(StackValidationArgs(policy_resources, config), report)
    else:
        policy = resource_policy(rule)
        for r in resources:
            policy.validate(
                ResourceValidationArgs(r.type, as_sdk_props(r.props), urn_of(r), r.name, options(), None, config),
                report,
            )
    paths = []
    for message in reported:
        match = _PATH.match(message)
        assert match, message
        paths.append((rule_id, match.group(1)))
    return sorted(paths)


def ray(
    kind: str = "RayCluster",
    head: Mapping[str, Any] | None = None,
    head_pod: Mapping[str, Any] | None = None,
    workers: Sequence[Mapping[str, Any]] = ({},),
    spec: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Resource:
    """A Ray resource whose cluster has a patched head and one worker group per patch in `workers`.

    Each worker patch may carry `group` (merged into the worker group spec) and `container`.
    """
    cluster = _ray_cluster(pod_spec(head, head_pod), [pod_spec(w.get("container"), w.get("pod")) for w in workers])
    groups = zip(cluster["workerGroupSpecs"], workers, strict=True)
    cluster["workerGroupSpecs"] = [merge(group, patch.get("group", {})) for group, patch in groups]
    key = {"RayCluster": None, "RayJob": "rayClusterSpec", "RayService": "rayClusterConfig"}[kind]
    body: dict[str, Any] = cluster if key is None else {key: cluster}
    if kind == "RayJob":
        body.update({"shutdownAfterJobFinishes": True, "ttlSecondsAfterFinished": 600, "activeDeadlineSeconds": 3600})
    props = _props("ray.io/v1", kind, merge(body, spec or {}))
    props["metadata"] = merge(props["metadata"], metadata or {})
    return Resource(f"kubernetes:ray.io/v1:{kind}", "work", props)


def k8s(
    api_version: str,
    kind: str,
    body: Mapping[str, Any],
    name: str = "work",
    namespace: str | None = "ml",
    **metadata: Any,
) -> Resource:
    """Any Kubernetes object: `body` holds the top-level fields besides apiVersion, kind and metadata."""
    meta: dict[str, Any] = {"name": name, **metadata}
    if namespace is not None:
        meta["namespace"] = namespace
    group = api_version if "/" in api_version else f"core/{api_version}"
    return Resource(
        f"kubernetes:{group}:{kind}", name, {"apiVersion": api_version, "kind": kind, "metadata": meta, **body}
    )


def aws(
    token: str,
    props: Mapping[str, Any],
    name: str = "res",
    urn: str = "",
    dependencies: Mapping[str, Sequence[str]] | None = None,
) -> Resource:
    return Resource(token, name, dict(props), urn, dict(dependencies or {}))
