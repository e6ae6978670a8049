"""Account pages: sign up, log in and out, session cookies, CSRF, rate limits, tokens, orgs."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from webpages import csrf, join, login, post_form

from hugbox.app import create_app
from hugbox.auth import service
from hugbox.db import Database
from hugbox.settings import Settings
from hugbox.sso.wiring import SSO_STARTS


def test_pages_carry_security_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    css = client.get("/static/hugbox.css")
    assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/static/..%2Fpages.py").status_code == 404
    assert client.get("/static/nope.js").status_code == 404


def test_login_sets_a_strict_session_cookie(client: TestClient) -> None:
    cookie = login(client, "alice", "pw").headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http here
    assert ">alice<" in client.get("/").text


def test_session_cookie_is_secure_over_https(settings: Settings, token: str) -> None:
    with TestClient(create_app(settings), base_url="https://hub.test") as client:
        assert "Secure" in login(client, "alice", "pw").headers["set-cookie"]


def test_secure_cookies_behind_a_tls_proxy(token: str, settings: Settings) -> None:
    # The proxy speaks plain http to us; the public URL says browsers use https.
    behind_proxy = settings.model_copy(update={"public_url": "https://hub.example.org"})
    with TestClient(create_app(behind_proxy)) as client:
        cookie = client.get("/login").headers["set-cookie"]
        assert cookie.startswith("hugbox_anon=") and "Secure" in cookie and "HttpOnly" in cookie


def test_login_only_redirects_within_the_site(client: TestClient) -> None:
    for target, expected in (("/models?x=1", "/models?x=1"), ("//evil.example", "/"),
                             ("https://evil.example", "/"), ("/\\evil.example", "/")):  # fmt: skip
        fresh = TestClient(client.app)
        form = {"csrf_token": csrf(fresh, "/login"), "username": "alice", "password": "pw",
                "next": target}  # fmt: skip
        response = fresh.post("/login", data=form, follow_redirects=False)
        assert response.headers["location"] == expected, target


def test_wrong_password_and_rate_limit(client: TestClient) -> None:
    form = {"csrf_token": csrf(client, "/login"), "username": "alice", "password": "nope"}
    for _ in range(10):
        response = client.post("/login", data=form)
        assert response.status_code == 401
        assert "Wrong username or password" in response.text
    limited = client.post("/login", data=form)
    assert limited.status_code == 429
    assert "Too many failed logins" in limited.text


def test_forms_without_a_valid_csrf_token_are_refused(client: TestClient) -> None:
    login(client, "alice", "pw")
    assert client.post("/new", data={"name": "x"}).status_code == 403
    refused = client.post("/new", data={"name": "x", "csrf_token": "forged"})
    assert refused.status_code == 403
    assert "reload and try again" in refused.text
    assert client.post("/login", data={"username": "alice", "password": "pw"}).status_code == 403


def test_sign_up_log_out_and_the_cookie_dies(client: TestClient) -> None:
    form = {"csrf_token": csrf(client, "/join"), "username": "dora", "password": "secret-pw"}
    response = client.post("/join", data=form, follow_redirects=False)
    assert response.headers["location"] == "/dora"
    profile = client.get("/dora")
    assert profile.status_code == 200 and "@dora" in profile.text
    session_cookie = client.cookies.get("hugbox_session")
    post_form(client, "/logout")
    assert ">dora<" not in client.get("/").text
    client.cookies.set("hugbox_session", str(session_cookie))
    assert "Log in" in client.get("/").text  # the old cookie no longer logs anyone in


def test_sign_up_rejects_taken_and_reserved_names(client: TestClient) -> None:
    for name in ("alice", "models"):
        form = {"csrf_token": csrf(client, "/join"), "username": name, "password": "long-enough"}
        response = client.post("/join", data=form)
        assert response.status_code in (400, 409)
        assert "flash error" in response.text


def test_tokens_are_shown_once_and_can_be_revoked(client: TestClient) -> None:
    login(client, "alice", "pw")
    page = post_form(client, "/settings/tokens", name="laptop", role="read")
    plain = re.search(r'id="new-token">(hf_\w+)<', page.text)
    assert plain, page.text
    auth = {"authorization": f"Bearer {plain[1]}"}
    assert (
        client.get("/api/whoami-v2", headers=auth).json()["auth"]["accessToken"]["role"] == "read"
    )
    listing = client.get("/settings/tokens").text
    assert "laptop" in listing and plain[1] not in listing
    token_id = re.search(r"/settings/tokens/(\d+)/delete", listing)
    assert token_id
    post_form(client, f"/settings/tokens/{token_id[1]}/delete")
    assert client.get("/api/whoami-v2", headers=auth).status_code == 401


def test_token_settings_need_a_login(client: TestClient) -> None:
    response = client.get("/settings/tokens")
    assert response.status_code == 401
    assert "Log in" in response.text


def test_scripts_reach_the_api_with_cookie_and_csrf_header_only(client: TestClient) -> None:
    login(client, "alice", "pw")
    assert client.get("/api/whoami-v2").status_code == 401  # the cookie alone is not enough
    header = {"x-csrf-token": csrf(client)}
    assert client.get("/api/whoami-v2", headers=header).json()["name"] == "alice"
    assert client.get("/api/whoami-v2", headers={"x-csrf-token": "0" * 40}).status_code == 401


def test_org_profile_and_members(client: TestClient) -> None:
    outsider = TestClient(client.app)
    join(outsider, "erin", "erin-password")
    database = Database(client.app.state.settings.sqlalchemy_url)
    with database.session() as session:
        service.create_org(session, name="labs", owner="alice")
    database.close()
    login(client, "alice", "pw")
    response = post_form(client, "/organizations/labs/members", user="erin", role="write")
    assert response.status_code == 303
    members = client.get("/organizations/labs/members").text
    assert "erin" in members and 'value="write" selected' in members
    assert "organization" in client.get("/labs").text
    refused = post_form(outsider, "/organizations/labs/members", user="erin", role="admin")
    assert refused.status_code == 403
    assert client.get("/organizations/nope/members").status_code == 404


def test_create_an_organization_in_the_browser(client: TestClient) -> None:
    login(client, "alice", "pw")
    assert "New organization" in client.get("/alice").text
    response = post_form(client, "/organizations/new", name="guild", fullname="The Guild")
    assert response.headers["location"] == "/organizations/guild/members"
    members = client.get("/organizations/guild/members").text
    assert "alice" in members and 'value="admin" selected' in members
    taken = post_form(client, "/organizations/new", name="guild")
    assert taken.status_code == 409 and "already taken" in taken.text
    assert TestClient(client.app).get("/organizations/new").status_code == 401


def test_starting_sso_sign_ins_is_rate_limited_per_client(client: TestClient) -> None:
    """Each start stores a row and asks the provider: a flood from one address gets a 429."""
    for _ in range(SSO_STARTS):
        assert client.get("/organizations/nowhere/sso/login").status_code == 404
    limited = client.get("/organizations/nowhere/sso/login")
    assert limited.status_code == 429
    assert "Too many SSO sign-ins started" in limited.text
