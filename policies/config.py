"""Per-rule settings: enforcement level, parameters and exemptions, in the format of
`pulumi preview --policy-pack-config`, so one file per environment serves both drivers:

    {"all": "advisory",
     "k8s-resource-max": {"enforcementLevel": "mandatory", "maxGpuPerPod": 8},
     "k8s-no-hostpath": {"exemptions": [{"type": "DaemonSet", "namespace": "gpu-system",
                                          "name": "nvidia-dcgm-exporter*", "reason": "reads GPU metrics"}]}}

CrossGuard hands each policy its own entry (`args.get_config()`, enforcement resolved by the engine);
the checker reads the whole file. Parameter defaults live on the rules (`Param`), nowhere else.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from policies.k8s import quantity
from policies.model import LEVELS, Param, Resource, Rule

ALL = "all"
LEVEL_KEY = "enforcementLevel"
EXEMPTIONS_KEY = "exemptions"
EXEMPTION_FIELDS = ("type", "name", "namespace", "urn")
EXEMPTIONS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "default": [],
    "description": "resources this rule does not apply to; each needs a reason",
    "items": {
        "type": "object",
        "required": ["reason"],
        "properties": {
            **{field: {"type": "string", "description": "glob; '*' when omitted"} for field in EXEMPTION_FIELDS},
            "reason": {"type": "string", "minLength": 1},
        },
    },
}


class ConfigError(ValueError):
    """A config file or entry that does not match the rules' schema."""


@dataclass(frozen=True)
class Exemption:
    """A resource a rule does not apply to. Fields are globs: `type` matches the type token or the kind,
    `name` the metadata or Pulumi name, `urn` the Pulumi URN (never matched by plain YAML)."""

    reason: str
    type: str = "*"
    name: str = "*"
    namespace: str = "*"
    urn: str = "*"

    def matches(self, resource: Resource) -> bool:
        type_glob, name_glob = _glob(self.type), _glob(self.name)
        return (
            (type_glob(resource.type) or type_glob(resource.kind))
            and (name_glob(resource.display_name) or name_glob(resource.name))
            and _glob(self.namespace)(resource.namespace)
            and (self.urn == "*" or _glob(self.urn)(resource.urn))
        )


_GLOB_CHARS = frozenset("*?[")


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> Callable[[str], bool]:
    """`fnmatch.fnmatchcase(value, pattern)` as a predicate prepared once per pattern: exemptions are matched
    for every finding of their rule, and most patterns are `*` or a plain kind or namespace."""
    if pattern == "*":
        return lambda value: True
    if _GLOB_CHARS.isdisjoint(pattern):
        return lambda value: value == pattern
    match = re.compile(fnmatch.translate(pattern)).match
    return lambda value: match(value) is not None


@dataclass(frozen=True)
class RuleSettings:
    level: str
    params: Mapping[str, Any]
    exemptions: tuple[Exemption, ...] = ()

    def exempts(self, resource: Resource | None) -> bool:
        return resource is not None and any(exemption.matches(resource) for exemption in self.exemptions)


def _value(rule: Rule, name: str, param: Param, value: Any) -> Any:
    """Type-check a parameter; integral floats (the SDK's JSON numbers) become ints."""
    where = f"{rule.id}.{name}"
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if param.kind in ("number", "integer"):
        if not number or (param.kind == "integer" and value != int(value)):
            raise ConfigError(f"{where}: expected a {param.kind}, got {value!r}")
        return int(value) if value == int(value) else value
    if param.kind == "quantity":
        if quantity(value) is None:
            raise ConfigError(f"{where}: {value!r} is not a quantity")
        return value
    expected = {"string": str, "boolean": bool}.get(param.kind)
    if expected is not None:
        if not isinstance(value, expected):
            raise ConfigError(f"{where}: expected a {param.kind}, got {value!r}")
        return value
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)  # hashable: rules cache on it


def _exemption(rule: Rule, item: Any) -> Exemption:
    if not isinstance(item, Mapping):
        raise ConfigError(f"{rule.id}.exemptions: expected an object, got {item!r}")
    unknown = set(item) - {*EXEMPTION_FIELDS, "reason"}
    reason = item.get("reason")
    if unknown:
        raise ConfigError(f"{rule.id}.exemptions: unknown fields {', '.join(sorted(map(str, unknown)))}")
    if not isinstance(reason, str) or not reason.strip():
        raise ConfigError(f"{rule.id}.exemptions: every exemption needs a reason")
    fields = {field: item[field] for field in EXEMPTION_FIELDS if field in item}
    if not all(isinstance(value, str) for value in fields.values()):
        raise ConfigError(f"{rule.id}.exemptions: fields must be strings")
    return Exemption(reason, **fields)


def rule_settings(
    rule: Rule, entry: Mapping[str, Any] | None, level: str | None = None, *, strict: bool = True
) -> RuleSettings:
    """Settings of one rule from its config entry (the properties CrossGuard passes to the policy).

    `strict` rejects unknown keys (the checker); the pack is lenient, because the engine has already
    validated the entry against the policy's schema and only extra keys can remain.
    """
    entry = entry or {}
    unknown = set(entry) - set(rule.params) - {EXEMPTIONS_KEY, LEVEL_KEY}
    if unknown and strict:
        raise ConfigError(f"{rule.id}: unknown settings {', '.join(sorted(map(str, unknown)))}")
    params = {name: _value(rule, name, param, entry.get(name, param.default)) for name, param in rule.params.items()}
    exemptions = entry.get(EXEMPTIONS_KEY) or []
    if not isinstance(exemptions, (list, tuple)):
        raise ConfigError(f"{rule.id}.exemptions: expected a list")
    return RuleSettings(level or rule.level, params, tuple(_exemption(rule, item) for item in exemptions))


def _level(where: str, value: Any) -> str:
    if value not in LEVELS:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(LEVELS)}")
    return str(value)


def load(data: Any, rules: Mapping[str, Rule]) -> dict[str, RuleSettings]:
    """Settings for every rule from a whole policy-pack config document."""
    if not isinstance(data, Mapping):
        raise ConfigError("the config must be a JSON object keyed by rule id")
    unknown = set(data) - set(rules) - {ALL}
    if unknown:
        raise ConfigError(f"unknown rules: {', '.join(sorted(map(str, unknown)))}")
    everything = data.get(ALL)
    if isinstance(everything, Mapping):
        everything = everything.get(LEVEL_KEY)
    default_level = _level(ALL, everything) if everything is not None else None
    settings = {}
    for rule_id, rule in rules.items():
        entry = data.get(rule_id)
        if isinstance(entry, str):
            entry = {LEVEL_KEY: entry}
        if entry is not None and not isinstance(entry, Mapping):
            raise ConfigError(f"{rule_id}: expected an enforcement level or an object")
        level = entry.get(LEVEL_KEY) if entry else None
        level = _level(rule_id, level) if level is not None else default_level
        settings[rule_id] = rule_settings(rule, entry, level)
    return settings


def read(path: Path, rules: Mapping[str, Rule]) -> dict[str, RuleSettings]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from error
    except ValueError as error:
        raise ConfigError(f"{path}: not valid JSON ({error})") from error
    try:
        return load(data, rules)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error


def config_schema(rule: Rule) -> dict[str, dict[str, Any]]:
    """JSON-schema properties of a rule's config entry (what `PolicyConfigSchema` publishes)."""
    return {**{name: param.schema() for name, param in rule.params.items()}, EXEMPTIONS_KEY: EXEMPTIONS_SCHEMA}
