"""Read the stack's Pulumi config (declared with types and defaults in Pulumi.yaml) into StackSettings."""

from __future__ import annotations

import pulumi

from components.names import PROJECT
from components.spec import Platform, StackSettings, load_platform


def stack_settings() -> StackSettings:
    config = pulumi.Config(PROJECT)
    environment = pulumi.get_stack()
    # Pulumi.yaml declares the defaults: "" for the strings (meaning "not set") and [] / false. Explicit
    # checks, never `x or default`, so that an explicit `false` is kept.
    spec_file = config.get("spec")
    preinstalled = config.get_object("preinstalledAddons")
    skip_await = config.get_bool("skipAwait")
    return StackSettings(
        environment=environment,
        spec_file=spec_file if spec_file not in (None, "") else f"stacks/{environment}.yaml",
        kubeconfig=_optional(config.get("kubeconfig")),
        kube_context=_optional(config.get("kubeContext")),
        preinstalled_addons=frozenset(preinstalled) if preinstalled is not None else frozenset(),
        skip_await=skip_await if skip_await is not None else False,
    )


def _optional(value: str | None) -> str | None:
    return value if value not in (None, "") else None


def load_stack_platform() -> Platform:
    """The validated platform of the current stack; raises SpecError listing every problem."""
    return load_platform(stack_settings())
