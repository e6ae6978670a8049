"""The demo's accounts: `demo` is an ordinary user, a separate site admin owns the seeded orgs."""

from pathlib import Path

import pytest
from sqlalchemy import select

from hugbox.auth import service as auth
from hugbox.auth.models import Account, Membership, OrgRole
from hugbox.cli.demo import DEMO_ADMIN, DEMO_PASSWORD, DEMO_USER, ensure_accounts
from hugbox.db import Database, migrate


@pytest.fixture
def database(tmp_path: Path) -> Database:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    migrate(url)
    return Database(url)


def _account(database: Database, name: str) -> tuple[bool, dict[str, OrgRole]]:
    """Whether `name` is a site admin, and its role in each org."""
    with database.session() as session:
        account = auth.get_account(session, name)
        rows = session.execute(
            select(Account.name, Membership.role)
            .join(Membership, Membership.org_id == Account.id)
            .where(Membership.user_id == account.id)
        )
        return account.is_admin, dict(rows.all())


def test_demo_is_an_ordinary_user_and_admin_owns_the_orgs(database: Database) -> None:
    with database.session() as session:
        password = ensure_accounts(session, {"hugbox", "openai-community"})
    assert password
    assert _account(database, DEMO_USER) == (False, {})
    admin = {"hugbox": OrgRole.ADMIN, "openai-community": OrgRole.ADMIN}
    assert _account(database, DEMO_ADMIN) == (True, admin)
    with database.session() as session:
        assert auth.verify_password(session, name=DEMO_USER, password=DEMO_PASSWORD) is not None
        assert auth.verify_password(session, name=DEMO_ADMIN, password=password) is not None


def test_seeding_again_keeps_the_admin_and_demotes_an_old_demo_admin(database: Database) -> None:
    with database.session() as session:
        auth.create_user(session, name=DEMO_USER, password=DEMO_PASSWORD, is_admin=True)
    with database.session() as session:
        assert ensure_accounts(session, {"hugbox"}) is not None
    with database.session() as session:
        assert ensure_accounts(session, {"hugbox"}) is None  # the password is shown once
    assert _account(database, DEMO_USER) == (False, {})
    assert _account(database, DEMO_ADMIN) == (True, {"hugbox": OrgRole.ADMIN})
