"""Generate the spec reference table (every key, its type and default) from the pydantic models.

`python -m tools.spec_reference` prints the Markdown that README.md embeds between the
`<!-- spec-reference -->` markers; a test keeps the two identical, so the reference cannot drift.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from components.spec.models import PlatformSpec


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in args)
    if origin is typing.Literal:
        return " \\| ".join(repr(arg) for arg in args).replace("'", "`")
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type_name(arg) for arg in args)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _model_in(annotation: object) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        nested = typing.get_args(candidate)
        if nested and candidate is not annotation:
            found = _model_in(candidate)
            if found:
                return found
    return None


def _default(field: object) -> str:
    default = field.default  # type: ignore[attr-defined]
    if default is PydanticUndefined:
        return "**required**"
    if isinstance(default, BaseModel):
        return "see below"
    return f"`{default!r}`".replace("'", '"')


def rows(model: type[BaseModel] = PlatformSpec, prefix: str = "") -> Iterator[str]:
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        nested = _model_in(annotation)
        origins = {typing.get_origin(annotation), *(typing.get_origin(arg) for arg in typing.get_args(annotation))}
        description = ""
        if nested is not None and nested.__doc__ and nested.__doc__ is not BaseModel.__doc__:
            description = " ".join(nested.__doc__.split())
        yield f"| `{key}` | {_type_name(annotation)} | {_default(field)} | {description} |"
        if nested is not None:
            suffix = ".<name>." if dict in origins else "[]." if list in origins else "."
            yield from rows(nested, f"{key}{suffix}")


def markdown() -> str:
    header = "| key | type | default | notes |\n|---|---|---|---|"
    return "\n".join([header, *rows()])


if __name__ == "__main__":
    print(markdown())
