"""Section B: image references. Every check skips an image that is unknown during preview."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from functools import lru_cache

from policies.k8s import gpu_count, parse_image, text, texts
from policies.model import Param, Params, Resource, Rule, Violation
from policies.walker import POD_KINDS, Container


def _images(resource: Resource) -> Iterator[tuple[str, str, Container]]:
    """(path of the image field, image, container) for every container with a known image."""
    for pod in resource.pods:
        for container in pod.containers:
            image = text(container.spec.get("image"))
            if image:
                yield f"{container.path}.image", image, container


def tag_pinned(resource: Resource, params: Params) -> Iterator[Violation]:
    for path, image, _ in _images(resource):
        parsed = parse_image(image)
        if parsed.digest:
            continue
        if not parsed.tag:
            yield Violation(path, f"image {image!r} has no tag (defaults to :latest)")
        elif parsed.tag == "latest":
            yield Violation(path, f"image {image!r} uses the mutable :latest tag")


def digest(resource: Resource, params: Params) -> Iterator[Violation]:
    for path, image, _ in _images(resource):
        if not parse_image(image).digest.startswith("sha256:"):
            yield Violation(path, f"image {image!r} is not pinned by @sha256 digest")


@lru_cache(maxsize=64)
def _registry_pattern(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One compiled regex for a whole allowlist: each entry is a glob over the qualified reference's prefix."""
    return re.compile("|".join(fnmatch.translate(pattern + "*") for pattern in patterns) or r"(?!)")


def registry_allowlist(resource: Resource, params: Params) -> Iterator[Violation]:
    allowed = tuple(texts(params["allowedRegistries"]))
    pattern = _registry_pattern(allowed)
    for path, image, _ in _images(resource):
        reference = parse_image(image).reference
        if not pattern.match(reference):
            yield Violation(path, f"image {reference!r} is not from an allowed registry ({', '.join(allowed)})")


def pull_policy(resource: Resource, params: Params) -> Iterator[Violation]:
    """Mutable tags need `Always`; GPU images are multi-GB, so there a digest plus `IfNotPresent` is the fix."""
    for path, image, container in _images(resource):
        spec = container.spec
        policy = spec.get("imagePullPolicy")
        pinned = bool(parse_image(image).digest)
        gpu = gpu_count(spec) > 0
        policy_path = path.removesuffix(".image") + ".imagePullPolicy"
        if gpu and policy == "Always":
            yield Violation(
                policy_path,
                "GPU container re-pulls its multi-GB image on every start: pin a digest and use IfNotPresent",
            )
        elif not pinned and policy != "Always":
            hint = "pin a digest" if gpu else "pin a digest or set imagePullPolicy: Always"
            yield Violation(
                policy_path, f"mutable tag {image!r} without imagePullPolicy Always may run a stale image: {hint}"
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
        POD_KINDS,
        tag_pinned,
    ),
    Rule(
        "k8s-image-digest",
        "Images are pinned by @sha256 digest.",
        "low",
        "advisory",
        POD_KINDS,
        digest,
    ),
    Rule(
        "k8s-image-registry-allowlist",
        "Images come from an allowed registry (glob prefixes over the fully qualified reference).",
        "high",
        "mandatory",
        POD_KINDS,
        registry_allowlist,
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
        POD_KINDS,
        pull_policy,
    ),
]
