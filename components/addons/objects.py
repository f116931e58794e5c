"""Register custom resources built as plain manifests (dicts) by the add-ons' pure builder functions.

Builders return whole manifests (`apiVersion`, `kind`, `metadata`, `spec`) so that tests validate exactly
what is registered against the pinned CRDs; this registers one as a `CustomResource`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi_kubernetes.apiextensions import CustomResource

Manifest = Mapping[str, Any]


def custom_resource(resource_name: str, manifest: Manifest, *, parent: pulumi.Resource,
                    depends_on: Sequence[pulumi.Resource]) -> CustomResource:
    """`depends_on` is what the object needs in the cluster first: its CRD and the controller or webhook
    that admits it. Pulumi deletes the object before those, so its controller can still finalise it."""
    extra = {key: value for key, value in manifest.items() if key not in ("apiVersion", "kind", "metadata")}
    return CustomResource(
        resource_name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=dict(manifest["metadata"]),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=list(depends_on)),
        **extra,
    )
