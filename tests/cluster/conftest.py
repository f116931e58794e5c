"""Shared fixtures: real platforms from `stacks/`, small hand-built ones, and a recorded cluster."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from components.cluster import ClusterHandle, create_cluster
from components.spec.loader import Platform, StackSettings, load_platform
from components.spec.models import PlatformSpec
from tools import mock_runtime
from tools.mock_runtime import Recording, Registration, record

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ignore_changes(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """`ignoreChanges` per resource name as the engine receives it (the harness does not record it)."""
    seen: dict[str, list[str]] = {}
    original = mock_runtime._RecordingMonitor.RegisterResource

    def register(self: Any, request: Any) -> Any:
        seen[request.name] = list(request.ignoreChanges)
        return original(self, request)

    monkeypatch.setattr(mock_runtime._RecordingMonitor, "RegisterResource", register)
    return seen


def stack_platform(environment: str, **settings: Any) -> Platform:
    return load_platform(
        StackSettings(environment=environment, spec_file=f"stacks/{environment}.yaml", **settings), root=ROOT
    )


def small_platform(spec: dict[str, Any], environment: str = "test", **settings: Any) -> Platform:
    """A platform from an inline spec (validated as the loader would, minus the file)."""
    return Platform(
        settings=StackSettings(environment=environment, spec_file="inline.yaml", **settings),
        spec=PlatformSpec.model_validate(spec),
    )


@dataclass
class RecordedCluster:
    recording: Recording
    handle: ClusterHandle
    values: dict[str, Any] = field(default_factory=dict)
    """Resolved outputs of the handle (kubeconfig, identity...), captured inside the program."""

    def one(self, type_token: str, name: str | None = None) -> Registration:
        found = [r for r in self.recording.of_type(type_token) if name is None or r.name == name]
        assert len(found) == 1, f"{len(found)} {type_token} named {name!r}"
        return found[0]


def record_cluster(platform: Platform, name: str = "gpuplat") -> RecordedCluster:
    holder: dict[str, Any] = {}

    def program() -> None:
        handle = create_cluster(name, platform)
        holder["handle"] = handle
        values = holder.setdefault("values", {})

        def keep(key: str) -> Callable[[Any], None]:
            return lambda value: values.__setitem__(key, value)

        handle.kubeconfig.apply(keep("kubeconfig"))
        if handle.workload_identity is not None:
            handle.workload_identity.oidc_issuer.apply(keep("oidc_issuer"))
            handle.workload_identity.oidc_provider_arn.apply(keep("oidc_provider_arn"))
            handle.workload_identity.account_id.apply(keep("account_id"))

    recording = record(program)
    return RecordedCluster(recording=recording, handle=holder["handle"], values=holder.get("values", {}))


SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # pulumi's wire marker of a secret value


def secret_value(value: Any) -> Any:
    """The plain value of a recorded input that must have been sent as a secret."""
    assert isinstance(value, dict) and SECRET_SIGNATURE in value, f"not a secret: {value!r}"
    return value["value"]


def parent_chain(recording: Recording, registration: Registration) -> Iterator[Registration]:
    """The registration's ancestors, nearest first, following the recorded parent URNs."""
    by_urn = {r.urn: r for r in recording.resources}
    parent = registration.parent
    while parent in by_urn:
        yield by_urn[parent]
        parent = by_urn[parent].parent
