"""The platform spec: typed models, cross-field rules and the loader that returns one frozen object."""

from components.spec.errors import SpecError, SpecProblem
from components.spec.loader import Platform, StackSettings, load_platform, validate_file

__all__ = ["Platform", "SpecError", "SpecProblem", "StackSettings", "load_platform", "validate_file"]
