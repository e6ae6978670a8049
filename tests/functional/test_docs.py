"""docs/configuration.md and docs/cli.md are generated; this fails when they are stale."""

import sys
from pathlib import Path

from hugbox.docgen import cli_reference, settings_reference

DOCS = Path(__file__).parents[2] / "docs"


def test_configuration_reference_is_current() -> None:
    assert (DOCS / "configuration.md").read_text() == settings_reference(), "run `make docs`"


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text() == cli_reference(), "run `make docs`"


def test_compatibility_table_lists_the_whole_matrix() -> None:
    """docs/compatibility.md is written by `make compat`: a client or scenario added to the
    matrix without a new run leaves the table stale."""
    sys.path.insert(0, str(DOCS.parent / "compat"))
    import matrix

    text = (DOCS / "compatibility.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and "| ---" not in line]
    assert rows[0] == "| " + " | ".join(["client (versions installed)", *matrix.SCENARIOS]) + " |"
    names = [row.removeprefix("| ").split(" (", 1)[0] for row in rows[1:]]
    assert names == [env.name for env in matrix.ENVS], "run `make compat`"
