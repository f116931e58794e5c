"""The CrossGuard pack through the SDK's own analyzer (`_PolicyAnalyzerServicer`, as `pulumi preview`
drives it, without starting a server): enforcement from the environment config, messages, severities,
unknown values, stack policies with property dependencies, pack metadata, and `__main__.py` itself.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from google.protobuf import struct_pb2
from policy_fixtures import GPU, GPU_POD, build
from pulumi.runtime.proto import analyzer_pb2 as proto
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from policies.config import LEVEL_KEY, config_schema
from policies.model import Resource
from policies.pack import PACK_NAME, policies
from policies.registry import RULES

POLICIES_DIR = Path(__file__).resolve().parents[2] / "policies"
LEVELS = {
    "advisory": proto.ADVISORY,
    "mandatory": proto.MANDATORY,
    "disabled": proto.DISABLED,
    "remediate": proto.REMEDIATE,
}
ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)+$")


def struct(data: dict[str, Any]) -> struct_pb2.Struct:
    value = struct_pb2.Struct()
    value.update(data)
    return value


def analyzer(env: str | None = None) -> _PolicyAnalyzerServicer:
    """The pack's analyzer, configured as the engine would from `policies/config/<env>.json`.

    The engine resolves `all`, per-policy levels and schema defaults before `Configure`
    (`ReconcilePolicyPackConfig`); this helper does the same for the entries the file sets.
    """
    servicer = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies(), EnforcementLevel.ADVISORY)
    if env is not None:
        data = json.loads((POLICIES_DIR / "config" / f"{env}.json").read_text())
        everything = data.get("all")
        request = proto.ConfigureAnalyzerRequest()
        for rule in RULES:
            entry = data.get(rule.id, {})
            entry = {LEVEL_KEY: entry} if isinstance(entry, str) else dict(entry)
            level = entry.pop(LEVEL_KEY, everything or rule.level)
            defaults = {name: schema["default"] for name, schema in config_schema(rule).items()}
            request.policyConfig[rule.id].CopyFrom(
                proto.PolicyConfig(enforcementLevel=LEVELS[level], properties=struct({**defaults, **entry}))
            )
        servicer.Configure(request, None)
    return servicer


def analyze(servicer: _PolicyAnalyzerServicer, resource: Resource) -> list[tuple[str, str, str]]:
    request = proto.AnalyzeRequest(
        type=resource.type,
        urn=f"urn:pulumi:prod::gpuplat::{resource.type}::{resource.name}",
        name=resource.name,
        properties=struct(dict(resource.props)),
    )
    response = servicer.Analyze(request, None)
    return sorted(
        (d.policyName, proto.EnforcementLevel.Name(d.enforcementLevel), d.message) for d in response.diagnostics
    )


def test_analyzer_reports_with_the_environment_levels() -> None:
    resource = build(
        "deployment", {"image": "nvcr.io/nvidia/pytorch:24.10-py3", "securityContext": {"privileged": True}}
    )
    found = analyze(analyzer("prod"), resource)
    privileged = ("k8s-no-privileged", "MANDATORY")
    digest = ("k8s-image-digest", "ADVISORY")
    assert {(name, level) for name, level, _ in found} >= {privileged, digest}
    message = next(m for name, _, m in found if name == "k8s-no-privileged")
    assert message == (
        "Containers are not privileged (GPUs come through resource limits, not device access).\n"
        "Deployment ml/work spec.template.spec.containers[0].securityContext.privileged: privileged container"
    )
    assert {level for _, level, _ in analyze(analyzer("dev"), resource)} == {"ADVISORY"}


def test_analyzer_severity_and_defaults_without_config() -> None:
    response = analyzer().Analyze(
        proto.AnalyzeRequest(
            type="kubernetes:core/v1:Service",
            urn="u",
            name="svc",
            properties=struct({"metadata": {"namespace": "ml"}, "spec": {"type": "NodePort"}}),
        ),
        None,
    )
    assert [(d.policyName, d.enforcementLevel, d.severity) for d in response.diagnostics] == [
        ("k8s-service-exposure", proto.MANDATORY, proto.POLICY_SEVERITY_HIGH)
    ]


def test_exemption_in_config_suppresses_only_that_resource() -> None:
    agent = {"securityContext": {"privileged": True}}
    exporter = build("daemonset", agent, metadata={"name": "nvidia-dcgm-exporter", "namespace": "gpu-system"})
    elsewhere = build("daemonset", agent, metadata={"name": "nvidia-dcgm-exporter", "namespace": "ml"})
    prod = analyzer("prod")
    assert "k8s-no-privileged" not in {name for name, _, _ in analyze(prod, exporter)}
    assert "k8s-no-privileged" in {name for name, _, _ in analyze(prod, elsewhere)}


def test_unknown_values_skip_only_the_unknown_field() -> None:
    """An image from an ECR output is unknown during preview: image rules wait for `up`, the rest still applies."""
    resource = build("deployment", {"image": UNKNOWN_STRING_VALUE, "securityContext": {"privileged": True}})
    found = analyze(analyzer("prod"), resource)
    names = {name for name, _, _ in found}
    assert "k8s-no-privileged" in names
    assert not names & {"k8s-image-tag-pinned", "k8s-image-registry-allowlist", "k8s-image-digest"}
    assert not [m for _, _, m in found if "can't run policy" in m]


def test_unknown_namespace_is_not_a_missing_namespace() -> None:
    resource = build("deployment", metadata={"namespace": UNKNOWN_STRING_VALUE})
    assert "k8s-no-default-namespace" not in {name for name, _, _ in analyze(analyzer("prod"), resource)}


def _stack_resource(resource: Resource, dependencies: dict[str, list[str]] | None = None) -> proto.AnalyzerResource:
    message = proto.AnalyzerResource(
        type=resource.type, urn=resource.urn, name=resource.name, properties=struct(dict(resource.props))
    )
    for key, urns in (dependencies or {}).items():
        message.propertyDependencies[key].CopyFrom(proto.AnalyzerPropertyDependencies(urns=urns))
    return message


def test_stack_policy_pairs_bucket_by_property_dependency() -> None:
    bucket_urn = "urn:pulumi:prod::gpuplat::aws:s3/bucket:Bucket::models"
    bucket = Resource("aws:s3/bucket:Bucket", "models", {"bucket": UNKNOWN_STRING_VALUE}, bucket_urn)
    sse_type = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    rules = [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]
    sse = Resource(
        sse_type, "sse", {"bucket": UNKNOWN_STRING_VALUE, "rules": rules}, f"urn:pulumi:prod::gpuplat::{sse_type}::sse"
    )

    def encryption(*resources: proto.AnalyzerResource) -> list[tuple[str, str]]:
        response = analyzer("prod").AnalyzeStack(proto.AnalyzeStackRequest(resources=list(resources)), None)
        return [
            (d.urn, d.message.splitlines()[-1]) for d in response.diagnostics if d.policyName == "aws-s3-encryption"
        ]

    assert encryption(_stack_resource(bucket), _stack_resource(sse, {"bucket": [bucket_urn]})) == []
    assert encryption(_stack_resource(bucket), _stack_resource(sse)) == [
        (
            bucket_urn,
            "aws:s3/bucket:Bucket models serverSideEncryptionConfiguration: "
            "bucket has no server-side encryption configuration",
        )
    ]


def test_stack_policy_blames_the_resource_through_the_sdk() -> None:
    job = build("job", GPU, GPU_POD, {"labels": {"kueue.x-k8s.io/queue-name": "missing"}})
    response = analyzer().AnalyzeStack(
        proto.AnalyzeStackRequest(resources=[_stack_resource(Resource(job.type, job.name, job.props, "urn:job"))]), None
    )
    refs = [
        (d.urn, d.enforcementLevel, d.message.splitlines()[-1])
        for d in response.diagnostics
        if d.policyName == "kueue-refs-resolve"
    ]
    assert refs == [
        (
            "urn:job",
            proto.MANDATORY,
            "Job ml/work metadata.labels: LocalQueue 'missing' is not declared in namespace 'ml'",
        )
    ]


def test_pack_metadata() -> None:
    pack = policies()
    info = _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", pack, EnforcementLevel.ADVISORY).GetAnalyzerInfo(None, None)
    assert len(info.policies) == len(RULES) == len({p.name for p in pack})
    for policy, rule in zip(pack, RULES, strict=True):
        assert ID.match(policy.name) and policy.name == rule.id
        assert policy.description and policy.description.endswith(".")
        assert policy.severity is not None and policy.enforcement_level is not None
        assert isinstance(policy, StackValidationPolicy if rule.is_stack else ResourceValidationPolicy)
    kinds = {p.name: p.policy_type for p in info.policies}
    assert kinds["kueue-refs-resolve"] == proto.PolicyType.POLICY_TYPE_STACK
    assert kinds["k8s-no-privileged"] == proto.PolicyType.POLICY_TYPE_RESOURCE


@pytest.mark.parametrize("env", ["local", "dev", "staging", "prod"])
def test_environment_configs_validate_against_the_published_schemas(env: str) -> None:
    """What the engine checks before `Configure` (`validatePolicyPackConfig`: an object schema per policy)."""
    data = json.loads((POLICIES_DIR / "config" / f"{env}.json").read_text())
    for rule in RULES:
        schema = {"type": "object", "properties": config_schema(rule)}
        jsonschema.Draft7Validator.check_schema(schema)
        entry = data.get(rule.id, {})
        entry = {} if isinstance(entry, str) else {k: v for k, v in entry.items() if k != LEVEL_KEY}
        jsonschema.validate(entry, schema)


def test_main_only_assembles_the_pack() -> None:
    """Run `policies/__main__.py` as Pulumi does (run_path from the pack directory) with a recording PolicyPack."""
    script = (
        "import json, runpy, pulumi_policy\n"
        "seen = {}\n"
        "def pack(name, policies, **kwargs): seen.update(name=name, policies=len(policies))\n"
        "pulumi_policy.PolicyPack = pack\n"
        "runpy.run_path('.', run_name='__main__')\n"
        "print(json.dumps(seen))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=POLICIES_DIR, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"name": PACK_NAME, "policies": len(RULES)}
    assert "policies.__main__" not in sys.modules


def test_pack_project_file_and_requirements() -> None:
    project = (POLICIES_DIR / "PulumiPolicy.yaml").read_text()
    assert "virtualenv: ../venv" in project and "name: python" in project
    pins = (POLICIES_DIR / "requirements.txt").read_text().split()
    assert {"pulumi==3.259.0", "pulumi-policy==1.21.0", "PyYAML==6.0.3"} <= set(pins)
