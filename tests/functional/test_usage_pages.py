"""The usage pages in process: an account's storage page (its own, its org's for members), the
site admins' usage view, and the downloads chart on a repo page; strangers are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient
from webpages import api_commit, api_create, login

from hugbox import db
from hugbox.auth import service as auth
from hugbox.settings import Settings


def _add(settings: Settings, name: str, *, admin: bool = False) -> None:
    database = db.Database(settings.sqlalchemy_url)
    with database.session() as session:
        auth.create_user(session, name=name, password="pw", is_admin=admin)
    database.close()


def _org(settings: Settings, name: str, owner: str) -> None:
    database = db.Database(settings.sqlalchemy_url)
    with database.session() as session:
        auth.create_org(session, name=name, owner=owner)
    database.close()


def test_storage_page_lists_the_largest_repos(client: TestClient, token: str) -> None:
    api_create(client, token, "big", private=True)
    api_commit(client, token, "alice/big", {"notes.txt": b"x" * 5000})
    login(client, "alice", "pw")
    page = client.get("/settings/storage")
    assert page.status_code == 200
    assert "alice/big" in page.text
    assert "permanently_delete_lfs_files" in page.text
    assert "super_squash_history" in page.text


def test_storage_pages_are_their_owners(client: TestClient, settings: Settings) -> None:
    assert client.get("/settings/storage").status_code == 401
    _add(settings, "bob")
    _org(settings, "acme", "alice")
    login(client, "bob", "pw")
    refused = client.get("/organizations/acme/settings/storage")
    assert refused.status_code == 403
    assert client.get("/organizations/nope/settings/storage").status_code == 404
    login(client, "alice", "pw")
    assert client.get("/organizations/acme/settings/storage").status_code == 200


def test_admin_usage_is_for_site_admins(client: TestClient, settings: Settings, token: str) -> None:
    assert client.get("/admin/usage").status_code == 401
    login(client, "alice", "pw")
    assert client.get("/admin/usage").status_code == 403
    _add(settings, "root", admin=True)
    api_create(client, token, "m")
    api_commit(client, token, "alice/m", {"notes.txt": b"y" * 3000})
    login(client, "root", "pw")
    page = client.get("/admin/usage")
    assert page.status_code == 200
    for table in ("top-user-storage", "top-org-downloads", "top-repo-storage"):
        assert f'id="{table}"' in page.text


def test_repo_page_has_a_downloads_chart(client: TestClient, token: str) -> None:
    api_create(client, token, "charted")
    page = client.get("/alice/charted")
    assert page.status_code == 200
    assert 'id="downloads-chart"' in page.text
    assert "<script" not in page.text.split('id="downloads-chart"')[1].split("</section>")[0]
