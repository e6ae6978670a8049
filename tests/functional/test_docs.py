"""docs/configuration.md and docs/cli.md are generated; this fails when they are stale."""

from pathlib import Path

from hugbox.docgen import cli_reference, settings_reference

DOCS = Path(__file__).parents[2] / "docs"


def test_configuration_reference_is_current() -> None:
    assert (DOCS / "configuration.md").read_text() == settings_reference(), "run `make docs`"


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text() == cli_reference(), "run `make docs`"
