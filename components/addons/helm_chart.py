"""Install one chart with `pulumi_kubernetes.helm.v4.Chart`, the same way for every add-on.

Why helm.v4.Chart (and not helm.v3.Release): the chart is rendered (`helm template`, with server-side
dry-run lookups) and every object becomes a Pulumi resource, so `pulumi preview` shows a per-object diff
and the policy pack sees every Deployment, Role and CRD. Consequences the add-ons are written for:

- CRDs in a chart's `crds/` directory are rendered as ordinary objects unless `skip_crds` (the provider
  sets `IncludeCRDs = !skipCrds` and `DisableHooks = true`, pulumi-kubernetes v4.25.0
  provider/pkg/provider/helm/v4/chart.go). They are applied with
  server-side apply like everything else and are therefore upgraded when the chart version moves,
  unlike `helm upgrade`, which never touches `crds/`. Custom resources in the same chart wait for
  their CRDs (the provider orders them).
- Server-side apply is the provider's default since pulumi-kubernetes v4 (off only through the provider's
  `enableServerSideApply: false` or `PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY=false`); nothing here turns it off.
  It matters: kube-prometheus-stack's CRDs exceed the 256 KiB `last-applied-configuration` annotation
  that client-side apply needs.
- Helm hooks are not run (only the release manifest is registered). Charts whose hooks do real work are
  configured around that (kube-prometheus-stack's admission-webhook certificate jobs, see monitoring.py).
- Objects annotated `helm.sh/resource-policy: keep` are registered with `retain_on_delete`.
- The release namespace is not created: each add-on creates its own and the chart depends on it. The
  namespace is passed as a plain string (not an Output) so that a first preview can render the chart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_kubernetes.helm.v4 import Chart, RepositoryOptsArgs

from components.addons.charts import ChartSource
from components.addons.crds import crd_protection
from components.names import recommended_labels
from components.spec.loader import Platform


@dataclass(frozen=True)
class InstallSettings:
    """How every chart of the stack is released, from the stack settings and the spec.

    `skip_await`: do not wait for rendered objects to become ready (a local API server without nodes,
    where no pod ever starts). `protect_crds`: protect and retain CRDs (`addons.protect_crds`, see crds.py).
    """

    skip_await: bool = False
    protect_crds: bool = False

    @classmethod
    def of(cls, platform: Platform) -> InstallSettings:
        return cls(skip_await=platform.settings.skip_await, protect_crds=platform.spec.addons.protect_crds)


def install_chart(
    resource_name: str,
    source: ChartSource,
    *,
    release: str,
    namespace: str,
    values: Mapping[str, Any],
    settings: InstallSettings,
    parent: pulumi.Resource,
    depends_on: Sequence[pulumi.Resource] = (),
) -> Chart:
    """One chart release: pinned source, release name, namespace and values built as Python data."""
    return Chart(
        resource_name,
        chart=source.chart,
        version=source.version,
        repository_opts=RepositoryOptsArgs(repo=source.repository) if source.repository else None,
        name=release,
        namespace=namespace,
        values=dict(values),
        skip_crds=False,
        skip_await=settings.skip_await,
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=list(depends_on), transforms=crd_protection(settings.protect_crds)
        ),
    )


def addon_namespace(resource_name: str, namespace: str, component: str, parent: pulumi.Resource,
                    labels: Mapping[str, str] | None = None) -> k8s.core.v1.Namespace:
    """The namespace an add-on's charts are released into (helm.v4.Chart does not create it)."""
    return k8s.core.v1.Namespace(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=namespace, labels={**recommended_labels(namespace, component), **(labels or {})}
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
