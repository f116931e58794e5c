"""Section G, S3: encryption, public access and versioning live in separate resources in pulumi-aws v7,
so these are stack rules that pair each bucket with the resources that configure it.

A companion is paired with its bucket through the Pulumi property dependency of its `bucket` input (known
even while the bucket's name is not), or else by equal name.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from policies.k8s import mapping, mappings, text
from policies.model import Param, Params, Resource, Rule, Stack, Violation
from policies.rules.aws import policy_document, public_principal, statements

BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
ENCRYPTION = frozenset({
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
})  # fmt: skip
PUBLIC_ACCESS_BLOCK = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
VERSIONING = frozenset({"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"})
LOGGING = frozenset({"aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"})
ACLS = frozenset({"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"})
POLICIES = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PAB_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _names(bucket: Resource) -> set[str]:
    return {name for name in (text(bucket.props.get("bucket")), text(bucket.props.get("id")), bucket.name) if name}


def _refers(companion: Resource, bucket: Resource, field: str = "bucket") -> bool:
    if bucket.urn and bucket.urn in companion.dependencies.get(field, ()):
        return True
    return text(companion.props.get(field)) in _names(bucket)


def _attached(stack: Stack, bucket: Resource, types: frozenset[str]) -> list[Resource]:
    return [r for r in stack.of_kind(*types) if _refers(r, bucket)]


def _buckets(stack: Stack) -> list[Resource]:
    return stack.of_kind(*BUCKETS)


def _algorithms(rules: Any) -> list[str]:
    """SSE algorithms of a rule or list of rules (`applyServerSideEncryptionByDefault.sseAlgorithm`)."""
    items = [rules] if isinstance(rules, Mapping) else [rule for _, rule in mappings(rules)]
    return [str(mapping(rule.get("applyServerSideEncryptionByDefault")).get("sseAlgorithm")) for rule in items]


def s3_encryption(stack: Stack, params: Params) -> Iterator[Violation]:
    for bucket in _buckets(stack):
        inline = mapping(bucket.props.get("serverSideEncryptionConfiguration")).get("rule")
        algorithms = _algorithms(inline) if inline is not None else []
        for companion in _attached(stack, bucket, ENCRYPTION):
            algorithms += _algorithms(companion.props.get("rules"))
        if not algorithms:
            yield Violation(
                "serverSideEncryptionConfiguration", "bucket has no server-side encryption configuration", bucket
            )
        elif params["requireKms"] and not any(a.startswith("aws:kms") for a in algorithms):
            yield Violation("serverSideEncryptionConfiguration", "bucket is not encrypted with KMS", bucket)


def s3_public_access(stack: Stack, params: Params) -> Iterator[Violation]:
    for bucket in _buckets(stack):
        blocks = _attached(stack, bucket, PUBLIC_ACCESS_BLOCK)
        if not blocks:
            yield Violation("bucket", "bucket has no BucketPublicAccessBlock", bucket)
        for block in blocks:
            open_flags = [flag for flag in PAB_FLAGS if block.props.get(flag) is not True]
            if open_flags:
                yield Violation(
                    open_flags[0], f"public access not fully blocked: {', '.join(open_flags)} not true", block
                )
        if bucket.props.get("acl") in PUBLIC_ACLS:
            yield Violation("acl", f"public ACL {bucket.props.get('acl')!r}", bucket)
        for acl in _attached(stack, bucket, ACLS):
            if acl.props.get("acl") in PUBLIC_ACLS:
                yield Violation("acl", f"public ACL {acl.props.get('acl')!r}", acl)
        for holder, value in [(bucket, bucket.props.get("policy"))] + [
            (p, p.props.get("policy")) for p in _attached(stack, bucket, POLICIES)
        ]:
            document = policy_document(value)
            for index, statement in statements(document) if document is not None else ():
                if statement.get("Effect", "Allow") == "Allow" and public_principal(statement):
                    yield Violation(
                        f"policy.Statement[{index}].Principal", 'bucket policy allows Principal "*"', holder
                    )


def s3_versioning_logging(stack: Stack, params: Params) -> Iterator[Violation]:
    loggings = stack.of_kind(*LOGGING)
    log_buckets = {b for b in _buckets(stack) for log in loggings if _refers(log, b, "targetBucket")}
    for bucket in _buckets(stack):
        enabled = mapping(bucket.props.get("versioning")).get("enabled") is True or any(
            mapping(v.props.get("versioningConfiguration")).get("status") == "Enabled"
            for v in _attached(stack, bucket, VERSIONING)
        )
        if not enabled:
            yield Violation("versioning", "bucket versioning is not enabled (no rollback of model artifacts)", bucket)
        logged = mapping(bucket.props.get("logging")).get("targetBucket") is not None or _attached(
            stack, bucket, LOGGING
        )
        if params["requireLogging"] and not logged and bucket not in log_buckets:
            yield Violation("logging", "bucket access logging is not enabled", bucket)


RULES = [
    Rule(
        "aws-s3-encryption",
        "Every bucket has a server-side encryption configuration (KMS when required).",
        "high",
        "mandatory",
        "stack",
        s3_encryption,
        params={"requireKms": Param(False, "boolean", "require aws:kms encryption")},
    ),
    Rule(
        "aws-s3-public-access-block",
        "Every bucket has a public access block with all four flags, and no public ACL or policy.",
        "critical",
        "mandatory",
        "stack",
        s3_public_access,
    ),
    Rule(
        "aws-s3-versioning-logging",
        "Buckets are versioned (model artifact rollback) and access-logged (log buckets excepted).",
        "medium",
        "advisory",
        "stack",
        s3_versioning_logging,
        params={"requireLogging": Param(True, "boolean", "also require access logging")},
    ),
]
