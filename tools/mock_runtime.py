"""Run Pulumi code under recording mocks and return every registration with its real inputs and edges.

Used by the unit tests, the desired-state renderer and the benchmarks: one harness, so what the tests
assert is what the renderer shows. `preview=False`, so values inside `apply` are known and assertions on
them really run. Component resources are recorded too (`custom=False`), with parent, dependencies and
provider, which is what the dependency-edge tests and the critical-path benchmark need.
"""

from __future__ import annotations

import gc
import os
import runpy
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, Mocks

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Registration:
    """One registered resource as the engine would see it."""

    type: str
    name: str
    urn: str
    inputs: dict[str, Any]
    parent: str
    dependencies: tuple[str, ...]
    provider: str
    custom: bool
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    ignore_changes: tuple[str, ...] = ()
    # Output names the program marked secret (`ResourceOptions(additional_secret_outputs=[...])`); the
    # renderer masks the inputs of the same names. Secret input values themselves arrive wrapped in the
    # RPC secret signature inside `inputs` (see `tools.render.mask_secrets`).
    additional_secret_outputs: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]


@dataclass
class Recording:
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registration:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.resources if r.urn == urn)

    def children_of(self, parent: Registration) -> list[Registration]:
        return [r for r in self.resources if r.parent == parent.urn]

    def descendants_of(self, ancestor: Registration) -> Iterator[Registration]:
        for child in self.children_of(ancestor):
            yield child
            yield from self.descendants_of(child)

    def custom_resources(self) -> list[Registration]:
        return [r for r in self.resources if r.custom]


class _Mocks(Mocks):
    """Echo inputs back as outputs, with a few well-known computed outputs filled in."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        outputs = dict(args.inputs)
        if args.typ == "aws:eks/cluster:Cluster":
            outputs.setdefault("endpoint", "https://example.eks.amazonaws.com")
            outputs.setdefault("certificateAuthority", {"data": "Y2VydA=="})
            outputs.setdefault("identities", [{"oidcs": [{"issuer": "https://oidc.eks.example/id/ABC"}]}])
            outputs.setdefault("arn", f"arn:aws:eks:us-east-1:111122223333:cluster/{args.name}")
        if args.typ == "aws:ec2/launchTemplate:LaunchTemplate":
            outputs.setdefault("latestVersion", 1)
        if args.typ.startswith("aws:"):
            outputs.setdefault("arn", f"arn:aws:mock:::{args.name}")
        return f"{args.name}-id", outputs

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        # The second element is the list of check failures; pulumi iterates it, so never None.
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {"names": ["az-a", "az-b", "az-c"], "zoneIds": ["1", "2", "3"]}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "111122223333", "arn": "arn:aws:iam::111122223333:user/ci", "userId": "ci"}, []
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com"}, []
        return {}, []


class _RecordingMonitor(MockMonitor):
    def __init__(self, recording: Recording):
        super().__init__(_Mocks())
        self.recording = recording

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object)
            self.recording.resources.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    inputs=inputs,
                    parent=request.parent,
                    dependencies=tuple(request.dependencies),
                    provider=request.provider,
                    custom=bool(request.custom),
                    protect=bool(request.protect),
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                    ignore_changes=tuple(request.ignoreChanges),
                    additional_secret_outputs=tuple(request.additionalSecretOutputs),
                )
            )
        return response


def record(
    program: Callable[[], object],
    *,
    stack: str = "test",
    project: str = "gpuplat",
    config: dict[str, str] | None = None,
) -> Recording:
    """Run `program` under recording mocks; return every registration once all RPCs have finished."""
    recording = Recording()
    monitor = _RecordingMonitor(recording)
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=False, monitor=monitor)
    pulumi.runtime.set_all_config({key: value for key, value in (config or {}).items()})

    @pulumi.runtime.test
    def run() -> None:
        program()

    callbacks, thresholds = list(gc.callbacks), gc.get_threshold()
    try:
        run()
    finally:
        # A program may set process-wide GC policy (`__main__.py` does: components/gc_policy.py). In a real
        # deployment its process ends with it; here many programs share one process, so undo it, and make
        # what it froze collectable again.
        gc.callbacks[:] = callbacks
        gc.set_threshold(*thresholds)
        gc.unfreeze()
    return recording


def record_stack(environment: str, config: dict[str, str] | None = None) -> Recording:
    """Run the project's `__main__.py` for one environment under mocks (no cloud, no cluster)."""
    settings = {"gpuplat:spec": f"stacks/{environment}.yaml", **(config or {})}
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    cwd = Path.cwd()
    try:
        os.chdir(ROOT)  # the program reads its spec relative to the project, as `pulumi` runs it
        return record(lambda: runpy.run_path(str(ROOT / "__main__.py")), stack=environment, config=settings)
    finally:
        os.chdir(cwd)

