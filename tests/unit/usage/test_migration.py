"""The usage migration keeps what the old bare counter counted: in `downloadsAllTime`, on an
undated day, so it leaves the 30-day `downloads` at the next roll-up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from hugbox.db import alembic_config, make_engine
from testdb import empty_postgresql


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    with empty_postgresql() as url:
        yield url


def test_old_counts_become_undated_all_time_downloads(url: str) -> None:
    command.upgrade(alembic_config(url), "0014_space_hosts")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO accounts (id, kind, name, name_lower, fullname, is_admin, created_at)"
                " VALUES (1, 'user', 'a', 'a', '', false, CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO repos (id, type, namespace, name, id_lower, owner_id, private,"
                " disabled, created_at, last_modified, card_data, tags, downloads, likes,"
                " used_storage, objects_indexed) VALUES (7, 'model', 'a', 'm', 'a/m', 1, false,"
                " false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, '{}', '[]', 42, 0, 0, true)"
            )
        )
    command.upgrade(alembic_config(url), "0015_usage")
    with engine.connect() as connection:
        days = connection.execute(text("SELECT repo_pk, day, count FROM download_days")).all()
        total = connection.execute(text("SELECT downloads_all_time FROM repos")).scalar()
    engine.dispose()
    assert [(pk, str(day), count) for pk, day, count in days] == [(7, "1970-01-01", 42)]
    assert total == 42
