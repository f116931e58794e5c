"""Section B: image references. Every check skips an image that is unknown during preview."""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache

from policies.k8s import parse_image
from policies.model import NONE, Found, Param, Params, Resource, Rule, violation
from policies.walker import POD_KINDS, Container, PodSpec


def tag_pinned(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if not c.image:
        return NONE
    parsed = parse_image(c.image)
    if parsed.digest or parsed.tag not in ("", "latest"):
        return NONE
    if not parsed.tag:
        return violation(f"{c.path}.image", f"image {c.image!r} has no tag (defaults to :latest)")
    return violation(f"{c.path}.image", f"image {c.image!r} uses the mutable :latest tag")


def digest(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if not c.image or parse_image(c.image).digest.startswith("sha256:"):
        return NONE
    return violation(f"{c.path}.image", f"image {c.image!r} is not pinned by @sha256 digest")


@lru_cache(maxsize=64)
def _registry_pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled regex for a whole allowlist: each entry is a glob over the qualified reference's prefix."""
    return re.compile("|".join(fnmatch.translate(pattern + "*") for pattern in patterns) or r"(?!)")


@lru_cache(maxsize=8192)
def _allowed(patterns: tuple[str, ...], image: str) -> bool:
    return bool(_registry_pattern(patterns).match(parse_image(image).reference))


def registry_allowlist(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    if not c.image:
        return NONE
    allowed = params["allowedRegistries"]
    if _allowed(allowed, c.image):
        return NONE
    reference = parse_image(c.image).reference
    return violation(f"{c.path}.image", f"image {reference!r} is not from an allowed registry ({', '.join(allowed)})")


def pull_policy(c: Container, pod: PodSpec, resource: Resource, params: Params) -> Found:
    """Mutable tags need `Always`; GPU images are multi-GB, so there a digest plus `IfNotPresent` is the fix."""
    if not c.image:
        return NONE
    policy = c.spec.get("imagePullPolicy")
    if c.gpus and policy == "Always":
        return violation(
            f"{c.path}.imagePullPolicy",
            "GPU container re-pulls its multi-GB image on every start: pin a digest and use IfNotPresent",
        )
    if parse_image(c.image).digest or policy == "Always":
        return NONE
    hint = "pin a digest" if c.gpus else "pin a digest or set imagePullPolicy: Always"
    return violation(
        f"{c.path}.imagePullPolicy",
        f"mutable tag {c.image!r} without imagePullPolicy Always may run a stale image: {hint}",
    )


DEFAULT_REGISTRIES = [
    "*.dkr.ecr.*.amazonaws.com/",
    "public.ecr.aws/",
    "nvcr.io/",
    "registry.k8s.io/",
    "quay.io/",
    "ghcr.io/",
    "docker.io/rayproject/",
    "docker.io/kserve/",
    "docker.io/vllm/",
    "docker.io/istio/",
]

RULES = [
    Rule(
        "k8s-image-tag-pinned",
        "Images carry an explicit tag other than :latest, or a digest.",
        "high",
        "mandatory",
        "container",
        tag_pinned,
        POD_KINDS,
    ),
    Rule(
        "k8s-image-digest",
        "Images are pinned by @sha256 digest.",
        "low",
        "advisory",
        "container",
        digest,
        POD_KINDS,
    ),
    Rule(
        "k8s-image-registry-allowlist",
        "Images come from an allowed registry (glob prefixes over the fully qualified reference).",
        "high",
        "mandatory",
        "container",
        registry_allowlist,
        POD_KINDS,
        params={
            "allowedRegistries": Param(
                DEFAULT_REGISTRIES, "strings", "glob prefixes such as '*.dkr.ecr.*.amazonaws.com/'"
            )
        },
    ),
    Rule(
        "k8s-image-pull-policy",
        "Mutable tags use imagePullPolicy Always; GPU containers use a digest and IfNotPresent instead.",
        "low",
        "advisory",
        "container",
        pull_policy,
        POD_KINDS,
    ),
]
