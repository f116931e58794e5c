"""Every rule of the catalogue, in README order. Adding a rule means adding it to a module's `RULES`."""

from __future__ import annotations

from policies.model import Rule
from policies.rules import aws, gpu, gpu_pools, identity, images, kserve, kueue, pod_security, ray, resources, s3

RULES: tuple[Rule, ...] = (
    *resources.RULES,
    *images.RULES,
    *pod_security.RULES,
    *identity.RULES,
    *aws.RULES,
    *s3.RULES,
    *gpu.RULES,
    *gpu_pools.RULES,
    *ray.RULES,
    *kueue.RULES,
    *kserve.RULES,
)
BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
assert len(BY_ID) == len(RULES), "duplicate rule ids"
