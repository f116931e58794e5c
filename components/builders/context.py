"""What every builder needs to know about the platform besides the spec entry it renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from components.spec.loader import Platform
    from components.spec.models import PlatformSpec


@dataclass(frozen=True)
class BuildContext:
    """The validated spec plus the facts that decide which objects exist and how they look.

    `istio`, `kueue`, `monitoring`, `kserve` and `kuberay` say whether the add-on is present on the
    cluster (installed by this stack or declared pre-installed); `skip_await` adds the Pulumi skip-await
    annotation to objects the Kubernetes provider would otherwise wait on.
    """

    spec: PlatformSpec
    environment: str = "test"
    skip_await: bool = False
    istio: bool = True
    kueue: bool = True
    monitoring: bool = True
    kserve: bool = True
    kuberay: bool = True

    @classmethod
    def from_platform(cls, platform: Platform) -> BuildContext:
        return cls(
            spec=platform.spec,
            environment=platform.settings.environment,
            skip_await=platform.settings.skip_await,
            istio=platform.addon_present("istio"),
            kueue=platform.addon_present("kueue"),
            monitoring=platform.addon_present("monitoring"),
            kserve=platform.addon_present("kserve"),
            kuberay=platform.addon_present("kuberay"),
        )

    @classmethod
    def for_spec(cls, spec: PlatformSpec, **overrides: object) -> BuildContext:
        """A context whose add-on flags follow `spec.addons.*.enabled` (tests and docs)."""
        addons = spec.addons
        flags: dict[str, object] = {
            "istio": addons.istio.enabled,
            "kueue": addons.kueue.enabled,
            "monitoring": addons.monitoring.enabled,
            "kserve": addons.kserve.enabled,
            "kuberay": addons.kuberay.enabled,
        }
        flags.update(overrides)
        return cls(spec=spec, **flags)  # type: ignore[arg-type]

    @property
    def domain(self) -> str:
        return self.spec.addons.istio.domain

    @property
    def deployment_mode(self) -> Literal["Standard", "Knative"]:
        return self.spec.addons.kserve.deployment_mode

    def namespace(self, team: str) -> str:
        """A team's namespace: `teams.<team>.namespace`, else the team name."""
        return self.spec.teams[team].namespace or team

    def default_queue(self, team: str) -> str:
        """The LocalQueue a workload joins when it names none: the team's first."""
        return self.spec.teams[team].local_queues[0]
