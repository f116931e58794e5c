"""Section G: AWS resources of the platform (EKS, launch templates, IAM, KMS, ECR).

IAM documents arrive as JSON strings (or `PolicyDocument` objects); a document built from outputs is
unknown during preview and is checked at `pulumi up`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from policies.k8s import flag, is_unknown, mapping, mappings, number, sequence, text, texts
from policies.model import Param, Params, Resource, Rule, Violation

EKS_CLUSTER = "aws:eks/cluster:Cluster"
NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"
LAUNCH_TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
KMS_KEY = "aws:kms/key:Key"
ECR_REPOSITORY = "aws:ecr/repository:Repository"
ECR_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
IAM_ROLE = "aws:iam/role:Role"
IAM_DOCUMENTS = frozenset({
    "aws:iam/policy:Policy", "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy", "aws:iam/groupPolicy:GroupPolicy",
})  # fmt: skip
IAM_ATTACHMENTS = frozenset({
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/policyAttachment:PolicyAttachment",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment", "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
})  # fmt: skip
# IAM actions that let a principal grant itself more (Rhino Security's privilege-escalation catalogue).
ESCALATION_ACTIONS = frozenset({
    "iam:passrole", "iam:createpolicyversion", "iam:setdefaultpolicyversion", "iam:attachrolepolicy",
    "iam:attachuserpolicy", "iam:attachgrouppolicy", "iam:putrolepolicy", "iam:putuserpolicy", "iam:putgrouppolicy",
    "iam:createaccesskey", "iam:updateassumerolepolicy", "iam:createloginprofile", "iam:updateloginprofile",
})  # fmt: skip
ADMIN_SERVICES = ("iam:", "kms:", "sts:", "organizations:")


# --- IAM documents -----------------------------------------------------------------------------------


def policy_document(value: Any) -> Mapping[str, Any] | None:
    """A parsed policy document, or None when absent, unknown or not JSON."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, Mapping) else None


def statements(document: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    found = document.get("Statement", document.get("statements"))
    return [(0, found)] if isinstance(found, Mapping) else mappings(found)


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else texts(value)


def _allows(statement: Mapping[str, Any]) -> bool:
    return bool(statement.get("Effect", "Allow") == "Allow")


def public_principal(statement: Mapping[str, Any]) -> bool:
    """`Principal: "*"` or `{"AWS": "*"}` without a Condition: anyone on the internet."""
    principal = statement.get("Principal")
    everyone = principal == "*" or "*" in _strings(mapping(principal).get("AWS"))
    return everyone and not statement.get("Condition")


def _document_violations(document: Mapping[str, Any], path: str) -> Iterator[Violation]:
    for index, statement in statements(document):
        if not _allows(statement):
            continue
        at = f"{path}.Statement[{index}]"
        if "NotAction" in statement:
            yield Violation(f"{at}.NotAction", "Allow with NotAction grants every other action")
            continue
        actions = [action.lower() for action in _strings(statement.get("Action"))]
        any_resource = "*" in _strings(statement.get("Resource"))
        if not any_resource:
            continue
        if "*" in actions or "*:*" in actions:
            yield Violation(f"{at}.Action", 'Action "*" on Resource "*" is full administrator access')
        elif admin := [a for a in actions if a.endswith(":*") and a.startswith(ADMIN_SERVICES)]:
            yield Violation(f"{at}.Action", f"{', '.join(admin)} on every resource")
        elif escalation := sorted(set(actions) & ESCALATION_ACTIONS):
            yield Violation(f"{at}.Action", f"privilege escalation through {', '.join(escalation)} on every resource")


def iam_no_wildcard_admin(resource: Resource, params: Params) -> Iterator[Violation]:
    props = resource.props
    if resource.type in IAM_ATTACHMENTS:
        arn = text(props.get("policyArn")) or ""
        if arn.endswith(":policy/AdministratorAccess"):
            yield Violation("policyArn", "attaches AdministratorAccess")
        return
    if resource.type == IAM_ROLE:
        for index, arn in enumerate(sequence(props.get("managedPolicyArns"))):
            if isinstance(arn, str) and arn.endswith(":policy/AdministratorAccess"):
                yield Violation(f"managedPolicyArns[{index}]", "attaches AdministratorAccess")
        for index, inline in mappings(props.get("inlinePolicies")):
            if (document := policy_document(inline.get("policy"))) is not None:
                yield from _document_violations(document, f"inlinePolicies[{index}].policy")
        return
    if (document := policy_document(props.get("policy"))) is not None:
        yield from _document_violations(document, "policy")


def _conditions(statement: Mapping[str, Any], suffix: str) -> dict[str, list[str]]:
    """Condition operator -> values for keys ending in `suffix` (`:sub`, `:aud`)."""
    found: dict[str, list[str]] = {}
    for operator, entries in mapping(statement.get("Condition")).items():
        for key, values in mapping(entries).items():
            if isinstance(key, str) and key.endswith(suffix):
                found.setdefault(str(operator), []).extend(_strings(values))
    return found


def iam_trust_scoped(resource: Resource, params: Params) -> Iterator[Violation]:
    document = policy_document(resource.props.get("assumeRolePolicy"))
    if document is None:
        return
    for index, statement in statements(document):
        if not _allows(statement):
            continue
        at = f"assumeRolePolicy.Statement[{index}]"
        if public_principal(statement):
            yield Violation(f"{at}.Principal", "any AWS principal may assume the role")
        web_identity = "sts:assumerolewithwebidentity" in [a.lower() for a in _strings(statement.get("Action"))]
        if not web_identity:
            continue  # only web identity (IRSA) trust is pinned by token claims
        subjects, audiences = _conditions(statement, ":sub"), _conditions(statement, ":aud")
        exact = subjects.get("StringEquals", [])
        if not exact or any("*" in subject for values in subjects.values() for subject in values):
            yield Violation(
                f"{at}.Condition", "IRSA trust does not pin `:sub` to one system:serviceaccount:<namespace>:<name>"
            )
        if "sts.amazonaws.com" not in audiences.get("StringEquals", []):
            yield Violation(f"{at}.Condition", "IRSA trust does not pin `:aud` to sts.amazonaws.com")


# --- EKS ---------------------------------------------------------------------------------------------


def eks_endpoint_private(resource: Resource, params: Params) -> Iterator[Violation]:
    vpc = mapping(resource.props.get("vpcConfig"))
    public = vpc.get("endpointPublicAccess", True)  # AWS default: public
    if public is False or is_unknown(public):
        return
    cidrs = texts(vpc.get("publicAccessCidrs"))
    if not cidrs or "0.0.0.0/0" in cidrs:
        yield Violation(
            "vpcConfig.endpointPublicAccess",
            "API endpoint is public to 0.0.0.0/0; disable it or restrict publicAccessCidrs",
        )


def eks_secrets_encryption(resource: Resource, params: Params) -> Iterator[Violation]:
    configs = resource.props.get("encryptionConfig")
    configs = [configs] if isinstance(configs, Mapping) else [c for _, c in mappings(configs)]
    for config in configs:
        key = mapping(config.get("provider")).get("keyArn")
        if "secrets" in texts(config.get("resources")) and (text(key) or is_unknown(key)):
            return
    yield Violation("encryptionConfig", "Kubernetes secrets are not envelope-encrypted with a KMS key")


def eks_control_plane_logging(resource: Resource, params: Params) -> Iterator[Violation]:
    enabled = resource.props.get("enabledClusterLogTypes")
    if is_unknown(enabled):
        return
    missing = [log for log in texts(params["requiredLogTypes"]) if log not in texts(enabled)]
    if missing:
        yield Violation("enabledClusterLogTypes", f"control plane logs not enabled: {', '.join(missing)}")


def eks_supported_version(resource: Resource, params: Params) -> Iterator[Violation]:
    version = resource.props.get("version")
    if is_unknown(version):
        return
    supported = texts(params["supportedVersions"])
    if not text(version):
        yield Violation("version", "Kubernetes version not pinned (upgrades happen on AWS's schedule)")
    elif version not in supported:
        yield Violation("version", f"Kubernetes {version} is not in the supported list {', '.join(supported)}")


def nodegroup_no_ssh(resource: Resource, params: Params) -> Iterator[Violation]:
    remote = resource.props.get("remoteAccess")
    if isinstance(remote, Mapping) and remote and not texts(remote.get("sourceSecurityGroupIds")):
        yield Violation("remoteAccess.sourceSecurityGroupIds", "SSH open to the internet: no source security groups")


# --- launch templates ----------------------------------------------------------------------------------


def lt_imdsv2(resource: Resource, params: Params) -> Iterator[Violation]:
    options = mapping(resource.props.get("metadataOptions"))
    if options.get("httpEndpoint") == "disabled":
        return
    if options.get("httpTokens") != "required" and not is_unknown(options.get("httpTokens")):
        yield Violation("metadataOptions.httpTokens", "IMDSv1 allowed; set httpTokens to required")
    hops = number(options.get("httpPutResponseHopLimit"))
    if hops is not None and hops > params["maxHopLimit"]:
        yield Violation(
            "metadataOptions.httpPutResponseHopLimit",
            f"hop limit {int(hops)} lets pods reach the node's role (max {params['maxHopLimit']})",
        )


def lt_ebs_encrypted(resource: Resource, params: Params) -> Iterator[Violation]:
    for index, device in mappings(resource.props.get("blockDeviceMappings")):
        ebs = device.get("ebs")
        if not isinstance(ebs, Mapping):
            continue
        path = f"blockDeviceMappings[{index}].ebs"
        if flag(ebs.get("encrypted")) is not True and not is_unknown(ebs.get("encrypted")):
            yield Violation(f"{path}.encrypted", "EBS volume is not encrypted")
        elif params["requireKmsKey"] and ebs.get("kmsKeyId") is None:
            yield Violation(f"{path}.kmsKeyId", "EBS volume is not encrypted with a customer-managed key")


def lt_no_public_ip(resource: Resource, params: Params) -> Iterator[Violation]:
    for index, interface in mappings(resource.props.get("networkInterfaces")):
        if flag(interface.get("associatePublicIpAddress")) is True:
            yield Violation(f"networkInterfaces[{index}].associatePublicIpAddress", "nodes get public IP addresses")


# --- KMS and ECR -------------------------------------------------------------------------------------


def kms_rotation(resource: Resource, params: Params) -> Iterator[Violation]:
    props = resource.props
    spec = props.get("customerMasterKeySpec", props.get("keySpec"))
    if spec in (None, "SYMMETRIC_DEFAULT") and props.get("enableKeyRotation") is not True:
        yield Violation("enableKeyRotation", "symmetric key without automatic rotation")


def _public_statements(value: Any, path: str) -> Iterator[Violation]:
    document = policy_document(value)
    for index, statement in statements(document) if document is not None else ():
        if _allows(statement) and public_principal(statement):
            yield Violation(f"{path}.Statement[{index}].Principal", 'Principal "*" without a Condition')


def kms_policy_safe(resource: Resource, params: Params) -> Iterator[Violation]:
    props = resource.props
    if props.get("bypassPolicyLockoutSafetyCheck") is True:
        yield Violation("bypassPolicyLockoutSafetyCheck", "bypasses the key policy lockout safety check")
    if props.get("isEnabled") is False:
        yield Violation("isEnabled", "key is disabled")
    if not props.get("description"):
        yield Violation("description", "key has no description")
    yield from _public_statements(props.get("policy"), "policy")


def ecr_hygiene(resource: Resource, params: Params) -> Iterator[Violation]:
    props = resource.props
    if resource.type == ECR_POLICY:
        yield from _public_statements(props.get("policy"), "policy")
        return
    if props.get("imageTagMutability") not in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        yield Violation("imageTagMutability", "tags are mutable")
    if mapping(props.get("imageScanningConfiguration")).get("scanOnPush") is not True:
        yield Violation("imageScanningConfiguration.scanOnPush", "images are not scanned on push")
    encryption = [e.get("encryptionType") for _, e in mappings(props.get("encryptionConfigurations"))]
    if "KMS" not in encryption:
        yield Violation("encryptionConfigurations", "repository is not encrypted with KMS")


_LOG_TYPES = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

RULES = [
    Rule(
        "aws-eks-endpoint-private",
        "The EKS API endpoint is private, or public only to listed CIDRs.",
        "critical",
        "mandatory",
        "resource",
        eks_endpoint_private,
        frozenset({EKS_CLUSTER}),
    ),
    Rule(
        "aws-eks-secrets-encryption",
        "EKS envelope-encrypts Kubernetes secrets with a KMS key.",
        "high",
        "mandatory",
        "resource",
        eks_secrets_encryption,
        frozenset({EKS_CLUSTER}),
    ),
    Rule(
        "aws-eks-control-plane-logging",
        "EKS control plane logs are enabled.",
        "medium",
        "advisory",
        "resource",
        eks_control_plane_logging,
        frozenset({EKS_CLUSTER}),
        params={"requiredLogTypes": Param(_LOG_TYPES, "strings", "log types that must be enabled")},
    ),
    Rule(
        "aws-eks-supported-version",
        "The EKS Kubernetes version is pinned to a supported release.",
        "medium",
        "advisory",
        "resource",
        eks_supported_version,
        frozenset({EKS_CLUSTER}),
        params={"supportedVersions": Param(["1.32", "1.33", "1.34", "1.35"], "strings", "allowed Kubernetes versions")},
    ),
    Rule(
        "aws-eks-nodegroup-no-ssh",
        "Node groups allow SSH only from named security groups.",
        "high",
        "mandatory",
        "resource",
        nodegroup_no_ssh,
        frozenset({NODE_GROUP}),
    ),
    Rule(
        "aws-lt-imdsv2",
        "Launch templates require IMDSv2 with a hop limit that keeps pods off the node role.",
        "high",
        "mandatory",
        "resource",
        lt_imdsv2,
        frozenset({LAUNCH_TEMPLATE}),
        params={"maxHopLimit": Param(1, "integer", "largest httpPutResponseHopLimit (pods use IRSA / Pod Identity)")},
    ),
    Rule(
        "aws-lt-ebs-encrypted",
        'Launch template EBS volumes are encrypted (`encrypted` is the string "true" in pulumi-aws).',
        "high",
        "mandatory",
        "resource",
        lt_ebs_encrypted,
        frozenset({LAUNCH_TEMPLATE}),
        params={"requireKmsKey": Param(False, "boolean", "also require a customer-managed kmsKeyId")},
    ),
    Rule(
        "aws-lt-no-public-ip",
        "Launch templates do not give nodes public IP addresses.",
        "high",
        "mandatory",
        "resource",
        lt_no_public_ip,
        frozenset({LAUNCH_TEMPLATE}),
    ),
    Rule(
        "aws-iam-no-wildcard-admin",
        "IAM grants no `*` on `*`, no admin over IAM/KMS/STS, no escalation on every resource, no AdministratorAccess.",
        "critical",
        "mandatory",
        "resource",
        iam_no_wildcard_admin,
        IAM_DOCUMENTS | IAM_ATTACHMENTS | {IAM_ROLE},
    ),
    Rule(
        "aws-iam-trust-scoped",
        "Role trust policies name their principals; IRSA trust pins `:sub` and `:aud`.",
        "high",
        "mandatory",
        "resource",
        iam_trust_scoped,
        frozenset({IAM_ROLE}),
    ),
    Rule(
        "aws-kms-rotation",
        "Symmetric KMS keys rotate automatically.",
        "medium",
        "mandatory",
        "resource",
        kms_rotation,
        frozenset({KMS_KEY}),
    ),
    Rule(
        "aws-kms-policy-safe",
        "KMS keys keep the lockout safety check, are enabled, described and not open to `*`.",
        "high",
        "mandatory",
        "resource",
        kms_policy_safe,
        frozenset({KMS_KEY}),
    ),
    Rule(
        "aws-ecr-hygiene",
        "ECR repositories have immutable tags, scan on push, KMS encryption and no public policy.",
        "medium",
        "advisory",
        "resource",
        ecr_hygiene,
        frozenset({ECR_REPOSITORY, ECR_POLICY}),
    ),
]
