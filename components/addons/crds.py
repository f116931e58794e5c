"""CustomResourceDefinitions: protected from deletion where the spec asks for it (`addons.protect_crds`).

Deleting a CRD deletes every custom resource of that kind, cluster-wide and at once: removing the
kueue chart by mistake would drop every ClusterQueue and Workload, removing kube-prometheus-stack every
ServiceMonitor of every team. So in environments with `protect_crds: true` (prod) each CRD a chart
renders is registered with `protect` (pulumi refuses to delete or replace it) and `retain_on_delete`
(should someone unprotect it and delete the stack, the CRD and its objects stay in the cluster).

This is done with a `pulumi.ResourceTransform` on the chart rather than `protect` on the whole chart:
protect on a component is inherited by every child, which would also block the routine deletes and
replacements a chart upgrade brings (a ConfigMap dropped upstream, a Deployment whose selector changed).
Transforms reach the children of `helm.v4.Chart` even though the chart is rendered by the provider
(a remote component); the older `transformations` option does not
(https://www.pulumi.com/docs/iac/concepts/options/transformations/: "Transforms support modifying child
resources of packaged components ... whereas Transformations do not").
"""

from __future__ import annotations

import pulumi
from pulumi.runtime import settings
from pulumi.runtime.proto import resource_pb2_grpc

CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def protect_custom_resource_definitions(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
    """Protect and retain CustomResourceDefinitions; leave every other object as it is."""
    if args.type_ != CRD_TYPE:
        return None
    return pulumi.ResourceTransformResult(
        props=args.props,
        opts=pulumi.ResourceOptions.merge(args.opts, pulumi.ResourceOptions(protect=True, retain_on_delete=True)),
    )


def crd_protection(protect: bool) -> list[pulumi.ResourceTransform]:
    """The `transforms` option of a chart that may render CRDs."""
    if not protect or not engine_calls_transforms_back():
        return []
    return [protect_custom_resource_definitions]


def engine_calls_transforms_back() -> bool:
    """Whether a transform can be registered here. The engine always can (it calls transforms back
    through the SDK's callback server). `pulumi.runtime.set_mocks` has no callback server, and registering
    a transform there fails with "Callback server not initialized"; without this check every recording
    of the prod stack (`tools/mock_runtime.record_stack`) would fail. The add-on tests install a recording
    callback server, so the transform path is what they exercise."""
    current = settings.SETTINGS
    return current.callbacks is not None or isinstance(current.monitor, resource_pb2_grpc.ResourceMonitorStub)
