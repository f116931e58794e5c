"""Turn the stack settings plus `stacks/<env>.yaml` into one frozen, fully validated `Platform`.

Validation runs completely before any resource is registered: YAML errors, structural errors (types,
unknown keys, ranges) and cross-field rules are collected and raised together as one `SpecError`.
Entries that are structurally broken are set aside so the cross-field rules still check the rest.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from components.spec.errors import SpecError, SpecProblem
from components.spec.models import Name, PlatformSpec, Strict
from components.spec.rules import ADDON_NAMES, Declared, check

COLLECTIONS = ("node_pools", "teams", "model_services", "ray_clusters", "ray_jobs", "ray_services")


class StackSettings(Strict):
    """What comes from `Pulumi.<env>.yaml` rather than the spec file (see Pulumi.yaml `config:`)."""

    environment: Name
    spec_file: str
    kubeconfig: str | None = None
    kube_context: str | None = None
    preinstalled_addons: frozenset[str] = frozenset()
    skip_await: bool = False


class Platform(Strict):
    """The one object the program is built from."""

    settings: StackSettings
    spec: PlatformSpec

    def addon_present(self, name: str) -> bool:
        """Installed by this stack or declared as pre-installed on the cluster."""
        return getattr(self.spec.addons, name).enabled or name in self.settings.preinstalled_addons

    def addon_installed(self, name: str) -> bool:
        """Installed by this stack: enabled in the spec and not pre-installed."""
        return getattr(self.spec.addons, name).enabled and name not in self.settings.preinstalled_addons


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # base picked at run time
    """Safe loader (libyaml's parser when available) that refuses duplicate keys: a repeated model name
    must not silently win."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _dotted(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]":
            path += " (key)"
        else:
            path += f".{part}" if path else str(part)
    return path


def _pydantic_problems(file: str, error: ValidationError) -> list[SpecProblem]:
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(SpecProblem(file, _dotted(item["loc"]), message))
    return problems


def read_spec_file(path: Path, display: str) -> tuple[Any, list[SpecProblem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        return None, [SpecProblem(display, "", f"cannot read spec file: {error.strerror}")]
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        return None, [SpecProblem(display, "", f"invalid YAML: {where}{reason}")]
    if not isinstance(raw, dict):
        return None, [SpecProblem(display, "", "the spec must be a YAML mapping")]
    return raw, []


def _parse(raw: dict, display: str) -> tuple[PlatformSpec | None, Declared, list[SpecProblem]]:
    """Structural validation; on errors, retry without the broken entries so rules can run on the rest."""
    declared: Declared = {
        section: set(raw[section]) if isinstance(raw.get(section), dict) else set()
        for section in COLLECTIONS
    }
    try:
        return PlatformSpec.model_validate(raw), declared, []
    except ValidationError as error:
        problems = _pydantic_problems(display, error)
        pruned = copy.copy(raw)
        for item in error.errors():
            loc = item["loc"]
            if len(loc) >= 2 and loc[0] in COLLECTIONS and isinstance(pruned.get(loc[0]), dict):
                section = dict(pruned[loc[0]])
                section.pop(loc[1], None)
                pruned[loc[0]] = section
        try:
            return PlatformSpec.model_validate(pruned), declared, problems
        except ValidationError:
            return None, declared, problems


def load_platform(settings: StackSettings, root: Path | None = None) -> Platform:
    """Load and validate everything, or raise `SpecError` with every problem found."""
    root = root or Path.cwd()
    display = settings.spec_file
    path = Path(settings.spec_file)
    raw, problems = read_spec_file(path if path.is_absolute() else root / path, display)
    unknown_addons = sorted(settings.preinstalled_addons - set(ADDON_NAMES))
    problems += [
        SpecProblem(f"Pulumi.{settings.environment}.yaml", "gpuplat:preinstalledAddons",
                    f"unknown add-on {name!r} (known: {', '.join(ADDON_NAMES)})")
        for name in unknown_addons
    ]
    if raw is None:
        raise SpecError(problems)
    spec, declared, structural = _parse(raw, display)
    problems += structural
    if spec is not None:
        present = {name for name in ADDON_NAMES
                   if getattr(spec.addons, name).enabled or name in settings.preinstalled_addons}
        problems += [SpecProblem(display, path, message) for path, message in check(spec, declared, present)]
    if problems:
        raise SpecError(problems)
    assert spec is not None
    return Platform(settings=settings, spec=spec)


def validate_file(spec_file: str, environment: str | None = None) -> list[SpecProblem]:
    """Validate a stack file alone (no cloud, no cluster, no Pulumi): the problems, empty when valid."""
    environment = environment or Path(spec_file).stem
    try:
        settings = StackSettings(environment=environment, spec_file=spec_file)
    except ValidationError as error:
        return _pydantic_problems(spec_file, error)
    try:
        load_platform(settings)
    except SpecError as error:
        return error.problems
    return []
