"""`gpuplat:skipAwait`: a cluster without nodes or controllers (the local test API server) never makes
objects ready and never runs the garbage collector. Every Kubernetes object of the stack then gets
`pulumi.com/skipAwait: "true"` (do not wait for readiness; for Namespaces also on delete) and
`pulumi.com/deletionPropagationPolicy: background` (the provider's default, foreground, leaves a
finalizer only the garbage collector removes, so `pulumi destroy` would hang).

One stack transform covers every object, including ones added later, instead of each builder
remembering the annotations.
"""

from __future__ import annotations

import pulumi

from components.addons.crds import engine_calls_transforms_back
from components.names import SKIP_AWAIT_ANNOTATION

DELETION_POLICY_ANNOTATION = "pulumi.com/deletionPropagationPolicy"
ANNOTATIONS = {SKIP_AWAIT_ANNOTATION: "true", DELETION_POLICY_ANNOTATION: "background"}


def annotate_for_bare_api_server(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Add the annotations to a Kubernetes object's metadata (providers and components are left alone)."""
    if not args.custom or not args.type_.startswith("kubernetes:") or args.type_.startswith("pulumi:providers"):
        return None
    metadata = dict(args.props.get("metadata") or {})
    metadata["annotations"] = {**(metadata.get("annotations") or {}), **ANNOTATIONS}
    return pulumi.ResourceTransformResult(props={**args.props, "metadata": metadata}, opts=args.opts)


def register_skip_await(skip_await: bool) -> bool:
    """Register the stack transform when `skip_await` is on and the engine can call it back."""
    if not skip_await or not engine_calls_transforms_back():
        return False
    pulumi.runtime.register_resource_transform(annotate_for_bare_api_server)
    return True
