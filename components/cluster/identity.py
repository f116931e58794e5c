"""What workloads need to give pods AWS identities through IRSA (IAM roles for service accounts)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class WorkloadIdentity:
    """The cluster's OIDC identity provider, for IRSA trust policies.

    A role a service account may assume trusts `oidc_provider_arn` (principal `Federated`) with the
    conditions `<oidc_issuer>:aud = sts.amazonaws.com` and `<oidc_issuer>:sub =
    system:serviceaccount:<namespace>:<name>`; the condition keys need the issuer without `https://`.
    Only EKS mode has one: on an existing cluster the platform cannot know how pods get credentials.
    """

    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    """Issuer host and path, without `https://` (e.g. `oidc.eks.us-east-1.amazonaws.com/id/ABC`)."""
    account_id: pulumi.Output[str]
    partition: str
    """`aws`, `aws-cn`, `aws-us-gov`...: for ARNs in trust policies."""
    audience: str = "sts.amazonaws.com"
