"""Render a stack's full desired state from its spec: no credentials, no cloud, no cluster.

    python -m tools.render ENV... [--out DIR|-] [--spec FILE] [--config KEY=VALUE]...

The program runs under the recording mocks of `tools.mock_runtime` (the same harness the tests use), and
every resource it registers becomes one YAML document: Kubernetes objects as their manifests, everything
else (AWS resources, Helm charts, providers, component resources) as `type`, `name` and `inputs`. Each
document starts with a `# pulumi: TYPE NAME` line, so a render read back (`load`) keeps the type token
and the logical name. `--out DIR` writes `DIR/ENV.yaml`; `-` (the default) prints one environment.
The stack's `Pulumi.ENV.yaml` config applies as the engine would apply it; `--spec` and `--config`
override it.

Secret values never leave this module: Pulumi secrets (`Output.secret`, secret config, anything derived
from them), inputs named in `additional_secret_outputs`, Kubernetes `Secret` `data`/`stringData` and
provider credentials (the kubeconfig) are all shown as `[secret]`.

Helm charts are rendered as the chart resource (chart, version, values), not as the objects the chart
would create: under mocks a `helm.v4.Chart` has no children (it is a remote component).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc

from tools.mock_runtime import ROOT, Recording, Registration, record_stack

SECRET = "[secret]"
PROJECT = "gpuplat"
HEADER = "# pulumi: "

# Provider inputs that are credentials whether or not the program marked them secret.
PROVIDER_SECRETS: Mapping[str, frozenset[str]] = {
    "pulumi:providers:kubernetes": frozenset({"kubeconfig"}),
    "pulumi:providers:aws": frozenset({"accessKey", "secretKey", "token"}),
}
# Kubernetes Secret payloads are masked even when given as plain strings.
SECRET_PAYLOADS: Mapping[str, frozenset[str]] = {
    "kubernetes:core/v1:Secret": frozenset({"data", "stringData"}),
    "kubernetes:core/v1:SecretPatch": frozenset({"data", "stringData"}),
}


@dataclass(frozen=True)
class Document:
    """One rendered resource: its Pulumi type token, logical name and (masked, plain) input properties."""

    type: str
    name: str
    props: dict[str, Any]

    @property
    def is_kubernetes_object(self) -> bool:
        """A Kubernetes object whose inputs are its manifest (not a Helm chart, a patch or a provider)."""
        return (
            self.type.startswith("kubernetes:")
            and isinstance(self.props.get("apiVersion"), str)
            and self.type.rsplit(":", 1)[-1] == self.props.get("kind")
        )

    @property
    def kind(self) -> str:
        return self.type.rsplit(":", 1)[-1]

    @property
    def group(self) -> str:
        """The API group of a Kubernetes object (`core` for the core group), else ''."""
        if not self.is_kubernetes_object:
            return ""
        api_version = self.props["apiVersion"]
        return api_version.rsplit("/", 1)[0] if "/" in api_version else "core"

    @property
    def namespace_and_name(self) -> tuple[str, str]:
        """`metadata.namespace` and `metadata.name`; the logical name when the object is auto-named.

        A secret `metadata` (a secret label makes the whole field secret) is not looked into.
        """
        metadata = self.props.get("metadata")
        if not isinstance(metadata, Mapping):
            return "", self.name
        namespace, name = metadata.get("namespace"), metadata.get("name")
        return (namespace if isinstance(namespace, str) else ""), (name if isinstance(name, str) else self.name)

    def identity(self) -> tuple[str, ...]:
        """What the diff matches on: kind + namespace/name for Kubernetes objects (apiVersion-independent,
        so a v1beta1 -> v1beta2 move is a change, not a removal and an addition), else type + logical name."""
        if self.is_kubernetes_object:
            return ("kubernetes", self.kind, *self.namespace_and_name)
        return ("resource", self.type, self.name)

    def title(self) -> str:
        """`InferenceService serving/llama-3-8b`, `Namespace serving` or `aws:eks/cluster:Cluster gpuplat`."""
        if self.is_kubernetes_object:
            namespace, name = self.namespace_and_name
            return f"{self.kind} {namespace}/{name}" if namespace else f"{self.kind} {name}"
        return f"{self.type} {self.name}"

    def body(self) -> dict[str, Any]:
        """The YAML document: the manifest of a Kubernetes object, else type, name and inputs."""
        if self.is_kubernetes_object:
            first = [key for key in ("apiVersion", "kind", "metadata") if key in self.props]
            return {key: self.props[key] for key in [*first, *sorted(set(self.props) - set(first))]}
        return {"type": self.type, "name": self.name, "inputs": self.props}

    def record(self) -> tuple[str, str, dict[str, Any]]:
        return self.type, self.name, self.props


def mask_secrets(value: Any) -> Any:
    """Replace every value wrapped in the RPC secret signature by `[secret]`, at any depth.

    The mock monitor receives inputs as a protobuf Struct in which a secret is the object
    `{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": ...}`;
    `rpc.deserialize_properties` keeps that wrapper (it unwraps only with `deserialize_properties_unwrap_secrets`),
    so `Registration.inputs` still says which values are secret.
    """
    if rpc.is_rpc_secret(value):
        return SECRET
    if isinstance(value, Mapping):
        return {key: mask_secrets(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask_secrets(item) for item in value]
    return value


def plain(value: Any) -> Any:
    """Data YAML can hold: integral floats (protobuf numbers) back to ints, keys sorted, objects as text."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, Mapping):
        return {str(key): plain(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, pulumi.Resource):
        return f"<resource {getattr(value, '_name', '?')}>"
    if isinstance(value, pulumi.FileAsset | pulumi.FileArchive):
        return f"<file {value.path}>"
    if isinstance(value, pulumi.StringAsset):
        return value.text
    return str(value)


def masked_inputs(registration: Registration) -> dict[str, Any]:
    """The registration's inputs with every secret value replaced by `[secret]`."""
    props = mask_secrets(registration.inputs)
    always = (
        set(registration.additional_secret_outputs)
        | PROVIDER_SECRETS.get(registration.type, frozenset())
        | SECRET_PAYLOADS.get(registration.type, frozenset())
    )
    for key in always & set(props):
        props[key] = SECRET
    return plain(props)


def documents_of(recording: Recording) -> list[Document]:
    """Every registration as a document, ordered by identity so that renders of one spec are identical."""
    found = [Document(r.type, r.name, masked_inputs(r)) for r in recording.resources]
    return sorted(found, key=lambda document: document.identity())


def stack_file_config(environment: str, root: Path = ROOT) -> dict[str, str]:
    """The `config:` of `Pulumi.ENV.yaml` as the engine hands it to the program: keys namespaced, values as
    strings (objects and arrays as JSON). Encrypted values cannot be read without the stack's secrets
    provider; they become the text `[secret]`."""
    path = root / f"Pulumi.{environment}.yaml"
    if not path.exists():
        return {}
    values = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("config") or {}
    settings = {}
    for key, value in values.items():
        name = key if ":" in key else f"{PROJECT}:{key}"
        if isinstance(value, Mapping) and "secure" in value:
            settings[name] = SECRET
        elif isinstance(value, str):
            settings[name] = value
        else:
            settings[name] = json.dumps(value)
    return settings


def stack_config(environment: str, spec: str | None = None, config: Mapping[str, str] | None = None) -> dict[str, str]:
    """`Pulumi.ENV.yaml`, then `spec` (a path, for `gpuplat:spec`), then `config` overrides."""
    settings = stack_file_config(environment)
    if spec is not None:
        settings[f"{PROJECT}:spec"] = str(Path(spec).resolve())
    settings.update(config or {})
    return settings


def render_documents(
    environment: str, *, spec: str | None = None, config: Mapping[str, str] | None = None
) -> list[Document]:
    """The stack's desired state: `spec` (a path) overrides `gpuplat:spec`, `config` any other key."""
    return documents_of(record_stack(environment, config=stack_config(environment, spec, config)))


def render_stack(
    environment: str, *, spec: str | None = None, config: Mapping[str, str] | None = None
) -> list[tuple[str, str, dict[str, Any]]]:
    """`(type token, logical name, props)` of every resource, secrets masked (what `policies.check --stack` reads)."""
    return [document.record() for document in render_documents(environment, spec=spec, config=config)]


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings as literal blocks so scripts and configs stay readable."""


def _represent_text(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    # PyYAML falls back to a quoted style by itself where a literal block cannot hold the text.
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _represent_text)


def dump(documents: Iterable[Document]) -> str:
    """A multi-document YAML stream, each document headed by `# pulumi: TYPE NAME`."""
    parts = []
    for document in documents:
        body = yaml.dump(document.body(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
        parts.append(f"{HEADER}{document.type} {document.name}\n{body}")
    return "---\n".join(parts)


class RenderFormatError(Exception):
    """A render file that `dump` did not write."""


def load(text: str, source: str = "<render>") -> list[Document]:
    """Read back what `dump` wrote."""
    documents = []
    chunks = [chunk for chunk in re.split(r"^---\n", text, flags=re.MULTILINE) if chunk.strip()]
    for index, chunk in enumerate(chunks, start=1):
        header, _, rest = chunk.partition("\n")
        if not header.startswith(HEADER) or " " not in header[len(HEADER) :]:
            raise RenderFormatError(f"{source}: document {index} does not start with '{HEADER}TYPE NAME'")
        type_token, name = header[len(HEADER) :].split(" ", 1)
        try:
            body = yaml.safe_load(rest)
        except yaml.YAMLError as error:
            raise RenderFormatError(f"{source}: document {index}: invalid YAML: {error}") from error
        if not isinstance(body, dict):
            raise RenderFormatError(f"{source}: document {index} is not a mapping")
        document = Document(type_token, name, body)
        if not document.is_kubernetes_object:
            if body.get("type") != type_token or body.get("name") != name or not isinstance(body.get("inputs"), dict):
                raise RenderFormatError(
                    f"{source}: document {index} ({type_token} {name}) has no matching type/name/inputs"
                )
            document = Document(type_token, name, body["inputs"])
        documents.append(document)
    return documents


def load_file(path: Path) -> list[Document]:
    return load(path.read_text(encoding="utf-8"), str(path))


def _config_pair(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key if ":" in key else f"gpuplat:{key}", value


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("environments", nargs="+", metavar="ENV", help="stack names: local, dev, staging, prod")
    parser.add_argument(
        "--out", default="-", metavar="DIR|-", help="directory to write ENV.yaml into, or - for stdout (default)"
    )
    parser.add_argument("--spec", metavar="FILE", help="spec file instead of the stack's gpuplat:spec (one ENV only)")
    parser.add_argument(
        "--config", action="append", type=_config_pair, default=[], metavar="KEY=VALUE",
        help="stack config override, e.g. skipAwait=true (a key without namespace gets gpuplat:)",
    )  # fmt: skip
    arguments = parser.parse_args(argv)
    if len(arguments.environments) > 1 and (arguments.out == "-" or arguments.spec):
        parser.error("several environments need --out DIR and no --spec")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _arguments(argv)
    config = dict(arguments.config)
    status = 0
    for environment in arguments.environments:
        try:
            text = dump(render_documents(environment, spec=arguments.spec, config=config))
        except Exception as error:  # noqa: BLE001 - the program's own failure, reported without a traceback
            print(f"error: {environment}: the program failed under mocks: {error}", file=sys.stderr)
            status = 1
            continue
        if arguments.out == "-":
            sys.stdout.write(text)
        else:
            out = Path(arguments.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{environment}.yaml").write_text(text, encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
