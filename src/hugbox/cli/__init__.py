"""The `hugbox` command: operator commands that call services directly."""

from __future__ import annotations

import typer

from hugbox.cli import accounts, content, database, infer, plans, serve, spaces, storage, viewer

app = typer.Typer(
    name="hugbox",
    help="A self-hostable Hugging Face Hub. Data dir: --data-dir or HUGBOX_DATA_DIR.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("migrate")(database.migrate_command)
app.add_typer(accounts.user_app, name="user")
app.add_typer(accounts.org_app, name="org")
app.add_typer(accounts.token_app, name="token")
app.command("import")(content.import_command)
app.command("demo")(content.demo_command)
app.command("infer")(infer.infer_command)
app.add_typer(storage.storage_app, name="storage")
app.add_typer(viewer.viewer_app, name="viewer")
app.command("worker")(viewer.worker_command)
app.add_typer(spaces.spaces_app, name="spaces")
app.add_typer(plans.plan_app, name="plan")
