"""Alembic environment: migrates the database whose URL the caller put in the config."""

from __future__ import annotations

from alembic import context

from hugbox import audit as _audit  # noqa: F401  (registers tables)
from hugbox.auth import models as _auth_models  # noqa: F401  (registers tables)
from hugbox.community import models as _community_models  # noqa: F401  (registers tables)
from hugbox.db import MIGRATIONS_LOCK, Base, lock_in_transaction, make_engine
from hugbox.events import models as _event_models  # noqa: F401  (registers tables)
from hugbox.jobs import models as _job_models  # noqa: F401  (registers tables)
from hugbox.notifications import models as _notification_models  # noqa: F401  (registers tables)
from hugbox.plans import models as _plan_models  # noqa: F401  (registers tables)
from hugbox.repos import models as _repo_models  # noqa: F401  (registers tables)
from hugbox.scanning import models as _scanning_models  # noqa: F401  (registers tables)
from hugbox.social import models as _social_models  # noqa: F401  (registers tables)
from hugbox.spaces import models as _space_models  # noqa: F401  (registers tables)
from hugbox.sso import models as _sso_models  # noqa: F401  (registers tables)
from hugbox.usage import models as _usage_models  # noqa: F401  (registers tables)
from hugbox.viewer import models as _viewer_models  # noqa: F401  (registers tables)
from hugbox.webhooks import models as _webhook_models  # noqa: F401  (registers tables)
from hugbox.xet import models as _xet_models  # noqa: F401  (registers tables)

url = context.config.get_main_option("sqlalchemy.url")
assert url, "hugbox.db.migrate sets sqlalchemy.url"

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=Base.metadata, render_as_batch=True
        )
        with context.begin_transaction():
            # PostgreSQL migrates in one transaction; under this lock, a replica that starts
            # beside another waits for its migrations to commit, then reads the version anew.
            lock_in_transaction(connection, MIGRATIONS_LOCK)
            context.run_migrations()
    engine.dispose()
