"""The CrossGuard driver: every rule of the library as a Pulumi policy.

Importing this module is free of side effects; `serve()` (called only by `policies/__main__.py`) creates
the `PolicyPack`, which starts the analyzer's gRPC server and blocks.

Unknown values: the SDK raises `UnknownValueError` on any read of a value that is unknown during preview
and then downgrades the whole policy to an advisory "can't run" note for that resource. Instead, `plain`
copies the props once, replacing unknown values by `UNKNOWN`, and the rules skip exactly those fields; the
rest of the resource is still enforced, and the skipped fields are checked at `pulumi up`, where they are
known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as sdk_proxy

from policies.config import config_schema, rule_settings
from policies.engine import Engine, Finding
from policies.k8s import UNKNOWN, kind_of
from policies.model import Resource, Rule, Stack
from policies.registry import RULES

PACK_NAME = "gpuplat"
_SENTINELS = frozenset({
    sdk_proxy.UNKNOWN_BOOLEAN_VALUE, sdk_proxy.UNKNOWN_NUMBER_VALUE, sdk_proxy.UNKNOWN_STRING_VALUE,
    sdk_proxy.UNKNOWN_ARRAY_VALUE, sdk_proxy.UNKNOWN_ASSET_VALUE, sdk_proxy.UNKNOWN_ARCHIVE_VALUE,
    sdk_proxy.UNKNOWN_OBJECT_VALUE,
})  # fmt: skip


def _target(value: Any) -> Any:
    """The unchecked container behind an SDK proxy (its `__target` key), or the value itself."""
    try:
        return value["__target"]
    except (KeyError, IndexError, TypeError):
        return value


def plain(value: Any) -> Any:
    """Plain dicts and lists from the SDK's proxies, with unknown values replaced by `UNKNOWN`."""
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in _target(value).items()}
    if isinstance(value, Sequence):
        return [plain(item) for item in _target(value)]
    return value


def _message(finding: Finding) -> str:
    assert finding.subject is not None
    return f"{finding.subject.describe()} {finding.path}: {finding.message}"


def _engine(rule: Rule, config: Mapping[str, Any]) -> Engine:
    """The library's engine with this one rule, its level left to CrossGuard (never disabled here)."""
    settings = rule_settings(rule, config, "mandatory", strict=False)
    return Engine({rule.id: settings}, rules={rule.id: rule})


def resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if kind_of(args.resource_type) not in rule.kinds:
            return  # before copying the props: most policies do not apply to most resources
        resource = Resource(args.resource_type, args.name, plain(args.props), args.urn)
        for finding in _engine(rule, args.get_config()).check_resource(resource):
            report_violation(_message(finding), None)

    return ResourceValidationPolicy(rule.id, rule.description, validate, **_metadata(rule))


def stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        stack = Stack(
            Resource(
                r.resource_type,
                r.name,
                plain(r.props),
                r.urn,
                {key: tuple(d.urn for d in deps) for key, deps in r.property_dependencies.items()},
            )
            for r in args.resources
        )
        for finding in _engine(rule, args.get_config()).check_stack(stack):
            assert finding.subject is not None
            report_violation(_message(finding), finding.subject.urn or None)

    return StackValidationPolicy(rule.id, rule.description, validate, **_metadata(rule))


def _metadata(rule: Rule) -> dict[str, Any]:
    return {
        "enforcement_level": EnforcementLevel(rule.level),
        "config_schema": PolicyConfigSchema(config_schema(rule)),
        "severity": Severity[rule.severity.upper()],
        "tags": ["stack" if rule.is_stack else "resource"],
    }


def policies() -> list[Policy]:
    return [stack_policy(rule) if rule.is_stack else resource_policy(rule) for rule in RULES]


def serve() -> None:
    """Start the analyzer (blocks). Pulumi runs it through `policies/__main__.py`."""
    from pulumi_policy import PolicyPack

    PolicyPack(
        name=PACK_NAME,
        policies=policies(),
        description="gpuplat: Kubernetes, GPU, KubeRay, Kueue, KServe and AWS rules (see policies/README.md)",
    )
