"""`python -m hugbox` is the `hugbox` command."""

from hugbox.cli import app

app()
