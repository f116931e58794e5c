"""Small, total accessors over Kubernetes-shaped data, type tokens, quantities and images.

Every function here accepts anything (the policy SDK hands `Mapping`/`Sequence` proxies and floats, YAML
hands dicts and ints, fuzzed input hands nonsense) and never raises: a rule built from them cannot crash
on an odd shape. `UNKNOWN` stands for a value Pulumi cannot know during preview; accessors treat it as
"not decidable", so rules skip it instead of reporting a missing field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from components.quantity import QuantityError, parse_quantity


class _Unknown:
    """Sentinel for an output whose value is not known yet (see `policies.pack.plain`)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
EMPTY: Mapping[str, Any] = MappingProxyType({})

GPU_RESOURCE = "nvidia.com/gpu"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
ELASTIC_ANNOTATION = "kueue.x-k8s.io/elastic-job"
POOL_LABEL = "gpuplat.io/pool"
POOL_ANNOTATION = "gpuplat.io/pool"
POOL_CAPACITY_ANNOTATION = "gpuplat.io/pool-capacity"

# Extended resources that are whole devices: NVIDIA GPUs and MIG slices, AMD GPUs, AWS Neuron.
_ACCELERATOR = re.compile(r"^(nvidia\.com/(gpu|mig-.+)|amd\.com/gpu|aws\.amazon\.com/neuron.*)$")


def mapping(value: Any) -> Mapping[str, Any]:
    if type(value) is dict or value is EMPTY:  # the common cases first, without the slow ABC check
        return value
    if value is None:
        return EMPTY
    return value if isinstance(value, Mapping) else EMPTY


def is_mapping(value: Any) -> bool:
    """`isinstance(value, Mapping)`, sparing dicts and None (nearly every value) the slow ABC check."""
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


def sequence(value: Any) -> Sequence[Any]:
    if type(value) is list or type(value) is tuple:  # YAML lists and config parameters, without the ABC check
        return value
    if value is None:
        return ()
    return value if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) else ()


def mappings(value: Any) -> list[tuple[int, Mapping[str, Any]]]:
    """The (index, item) pairs of a list that are mappings; other items are skipped."""
    if not value:
        return []
    pairs = list(enumerate(value if type(value) is list else sequence(value)))
    for _, item in pairs:
        if type(item) is not dict and not isinstance(item, Mapping):
            return [(i, item) for i, item in pairs if is_mapping(item)]  # rare: keep the mappings' own indexes
    return pairs


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def texts(value: Any) -> list[str]:
    return [item for item in sequence(value) if isinstance(item, str)]


def number(value: Any) -> float | None:
    """A JSON number (the SDK turns every integer into a float); booleans are not numbers."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def flag(value: Any) -> bool | None:
    """A boolean that may arrive as a string (pulumi-aws launch templates use `"true"`)."""
    if value is True or value == "true":
        return True
    if value is False or value == "false":
        return False
    return None


def is_unknown(value: Any) -> bool:
    return value is UNKNOWN


def quantity(value: Any) -> Decimal | None:
    """A resource quantity (`1`, `1.0`, `"1"`, `"500m"`, `"2Gi"`) or None when absent or malformed."""
    try:
        return _quantity(value)
    except TypeError:  # unhashable: a mapping or list where a quantity belongs
        return None


@lru_cache(maxsize=4096, typed=True)  # typed: True, 1 and 1.0 are equal keys otherwise
def _quantity(value: Any) -> Decimal | None:
    if value is None or value is UNKNOWN:
        return None
    try:
        return parse_quantity(value)
    except (QuantityError, ArithmeticError, ValueError):
        return None


def format_number(value: Decimal) -> str:
    return str(value.normalize()) if value == value.to_integral_value() else str(value)


# --- type tokens -------------------------------------------------------------------------------------


def token_for(api_version: str, kind: str) -> str:
    """`apps/v1` + `Deployment` -> `kubernetes:apps/v1:Deployment`; the core group is spelled `core`."""
    group_version = api_version if "/" in api_version else f"core/{api_version}"
    return f"kubernetes:{group_version}:{kind}"


@lru_cache(maxsize=4096)
def kind_of(token: str) -> str:
    """The Kubernetes kind of a `kubernetes:` token; any other token (AWS) is its own kind."""
    if token.startswith("kubernetes:"):
        return token.rsplit(":", 1)[-1]
    return token


@lru_cache(maxsize=4096)
def group_of(token: str) -> str:
    """The API group of a `kubernetes:` token (`core` for the core group), else ''."""
    if not token.startswith("kubernetes:"):
        return ""
    parts = token.split(":")
    return parts[1].split("/")[0] if len(parts) == 3 else ""


@lru_cache(maxsize=4096)
def version_of(token: str) -> str:
    """The API version of a `kubernetes:` token (`v1beta2`), else ''."""
    parts = token.split(":")
    return parts[1].rpartition("/")[2] if token.startswith("kubernetes:") and len(parts) == 3 else ""


# --- containers --------------------------------------------------------------------------------------


ZERO = Decimal(0)
_accelerator_names: dict[str, bool] = {}


def is_accelerator(resource_name: str) -> bool:
    found = _accelerator_names.get(resource_name)
    if found is None:
        found = _accelerator_names[resource_name] = bool(_ACCELERATOR.match(resource_name))
    return found


def requests_of(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(mapping(container.get("resources")).get("requests"))


def limits_of(container: Mapping[str, Any]) -> Mapping[str, Any]:
    return mapping(mapping(container.get("resources")).get("limits"))


def accelerators(requests: Mapping[str, Any], limits: Mapping[str, Any]) -> dict[str, Decimal]:
    """Accelerator resources asked for: the limit, else the request (a malformed amount counts as 1)."""
    found: dict[str, Decimal] = {}
    for source in (requests, limits):
        for name in source:
            # Every accelerator is an extended resource (`vendor/name`); most keys are cpu and memory.
            if type(name) is str and "/" in name and is_accelerator(name):
                amount = quantity(source[name])
                found[name] = amount if amount is not None else Decimal(1)
    return found


def env_value(container: Mapping[str, Any], name: str) -> Any:
    for _, item in mappings(container.get("env")):
        if item.get("name") == name:
            return item.get("value")
    return None


# --- tolerations and taints ----------------------------------------------------------------------------


def matching_tolerations(tolerations: Any, key: str, effect: str, value: str | None = None) -> list[int]:
    """Indexes of tolerations that tolerate taint `key[=value]:effect` (any value when `value` is None).

    A toleration with no key and `operator: Exists` tolerates every taint, as Kubernetes matches it.
    """
    found = []
    for index, toleration in mappings(tolerations):
        if toleration.get("effect") not in (None, "", effect):
            continue
        toleration_key = toleration.get("key")
        if (
            not toleration_key
            and toleration.get("operator") == "Exists"
            or toleration_key == key
            and (value is None or toleration.get("operator") == "Exists" or toleration.get("value", "") == value)
        ):
            found.append(index)
    return found


_EKS_EFFECTS = {"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}


def taint_effect(effect: Any) -> str:
    """Kubernetes spelling of a taint effect (EKS node groups spell `NO_SCHEDULE`)."""
    value = text(effect) or ""
    return _EKS_EFFECTS.get(value, value)


# --- images ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Image:
    """A parsed image reference; `reference` is fully qualified (`docker.io/library/nginx:1.27`)."""

    reference: str
    registry: str
    repository: str
    tag: str
    digest: str


@lru_cache(maxsize=8192)
def parse_image(image: str) -> Image:
    name, _, digest = image.partition("@")
    tag = ""
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        name, tag = name[:colon], name[colon + 1 :]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = "docker.io", name if rest else f"library/{name}"
    reference = f"{registry}/{repository}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    return Image(reference, registry, repository, tag, digest)
