"""The README's spec reference is generated from the models; this keeps the two from drifting apart."""

from pathlib import Path

from tools.spec_reference import markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_spec_reference_matches_the_models() -> None:
    text = README.read_text(encoding="utf-8")
    embedded = text.split("<!-- spec-reference -->\n", 1)[1].split("\n<!-- /spec-reference -->", 1)[0]
    assert embedded == markdown(), "run `python -m tools.spec_reference` and paste it into README.md"
