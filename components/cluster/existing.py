"""A cluster someone else runs (kind, k3d, a shared company cluster): only a Kubernetes provider for it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components.spec.loader import Platform


@dataclass(frozen=True)
class ExistingClusterArgs:
    kubeconfig_path: str | None = None
    """Kubeconfig file to read; `~` is expanded, relative paths are relative to the project. None: the
    provider's default, `$KUBECONFIG` (which may list several files) or `~/.kube/config`."""
    context: str | None = None
    """Context to use; None: the kubeconfig's current context."""
    source: str = "cluster.kubeconfig"
    """Where the path came from, for the error message when it cannot be read."""


def existing_cluster_args(platform: Platform) -> ExistingClusterArgs:
    """Stack settings (`gpuplat:kubeconfig`, `gpuplat:kubeContext`) override the spec's `cluster` block."""
    settings, cluster = platform.settings, platform.spec.cluster
    from_settings = settings.kubeconfig is not None
    return ExistingClusterArgs(
        kubeconfig_path=settings.kubeconfig if from_settings else cluster.kubeconfig,
        context=settings.kube_context if settings.kube_context is not None else cluster.context,
        source=f"Pulumi.{settings.environment}.yaml gpuplat:kubeconfig" if from_settings else "cluster.kubeconfig",
    )


class ExistingCluster(pulumi.ComponentResource):
    """The Kubernetes provider for an existing cluster, as a child of this component.

    A given kubeconfig file is read when the program runs and its content handed to the provider (as a
    secret): the state then does not depend on a path that differs between machines, and a changed file
    shows up in the preview as a provider change.
    """

    provider: k8s.Provider
    kubeconfig: pulumi.Output[str]
    """The kubeconfig content used (secret); empty when the provider uses its default."""

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        # Read before registering anything: an unreadable file must not leave a half-registered component.
        content = _read_kubeconfig(args) if args.kubeconfig_path is not None else None
        super().__init__("gpuplat:cluster:ExistingCluster", name, None, opts)
        self.kubeconfig = pulumi.Output.secret(content if content is not None else "")
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig if content is not None else None,
            context=args.context,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"kubeconfig": self.kubeconfig, "context": args.context})


def _read_kubeconfig(args: ExistingClusterArgs) -> str:
    assert args.kubeconfig_path is not None
    path = Path(args.kubeconfig_path).expanduser()
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise pulumi.RunError(
            f"{args.source}: cannot read kubeconfig {args.kubeconfig_path!r} ({error.strerror or error})"
        ) from None
