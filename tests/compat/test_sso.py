"""Single sign-on for organisations against a real OpenID Connect provider (oidc-provider, run
by tests/oidc_idp.py): the org's settings API and who may use it, sign-ins through the provider
(account created, found again, role mapped from the `groups` claim), the refusals (state, a
provider's error, an ID token not signed with the provider's keys, a wrong nonce or a tampered
token), "require SSO" with tokens and whoami, and the audit entries of each."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError

from oidc_idp import Idp, client, running_idp, sign_in
from support import Hub, unique

pytestmark = pytest.mark.compat
SECRET = "hub-client-secret"
HS_SECRET = "a-client-secret-long-enough-for-hs256-signatures-0123456789"
USERS = {
    "sub-dana": {
        "preferred_username": "Dana Admin!",
        "name": "Dana",
        "email": "dana@example.com",
        "groups": ["hub-admins", "staff"],
    },
    "sub-eve": {"preferred_username": "eve", "email": "eve@example.com", "groups": ["staff"]},
    "sub-bob": {"preferred_username": "bob", "email": "bob@example.com", "groups": ["staff"]},
}
MAPPING = {"hub-admins": "admin", "engineers": "write", "staff": "contributor"}


@pytest.fixture(scope="module")
def orgs(hub: Hub) -> tuple[str, str]:
    """An org with a well-behaved client and one whose client gets HS256 ID tokens."""
    names = unique("sso"), unique("ssohs")
    for name in names:
        assert hub.cli("org", "create", name, "--owner", "alice").returncode == 0
    return names


def callback(hub: Hub, org: str) -> str:
    return f"{hub.endpoint}/organizations/{org}/sso/callback"


@pytest.fixture(scope="module")
def idp(hub: Hub, orgs: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Idp]:
    clients = [
        client("hub", SECRET, callback(hub, orgs[0])),
        client("hub-hs", HS_SECRET, callback(hub, orgs[1]), id_token_signed_response_alg="HS256"),
    ]
    with running_idp(tmp_path_factory.mktemp("idp"), clients) as provider:
        provider.set_users(USERS)
        yield provider


def configure(hub: Hub, org: str, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token or hub.alice}"}
    return httpx.put(f"{hub.endpoint}/api/organizations/{org}/sso", json=body, headers=headers)


def settings(idp: Idp, client_id: str = "hub", secret: str = SECRET, **more: Any) -> dict[str, Any]:
    return {
        "issuer": idp.issuer,
        "clientId": client_id,
        "clientSecret": secret,
        "roleClaim": "groups",
        "roleMapping": MAPPING,
        "defaultRole": "read",
        **more,
    }


@pytest.fixture(scope="module")
def org(hub: Hub, idp: Idp, orgs: tuple[str, str]) -> str:
    assert configure(hub, orgs[0], settings(idp)).status_code == 200
    return orgs[0]


def audit(hub: Hub, org: str, action: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{hub.endpoint}/api/organizations/{org}/audit-log",
        params={"action": action},
        headers={"authorization": f"Bearer {hub.alice}"},
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def whoami(hub: Hub, http: httpx.Client) -> dict[str, Any]:
    """The signed-in browser's user, through a page script's call (cookie + CSRF header)."""
    page = http.get("/settings/tokens").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = http.get("/api/whoami-v2", headers={"x-csrf-token": token})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_only_the_org_admins_read_and_change_the_settings(hub: Hub, idp: Idp, org: str) -> None:
    url = f"{hub.endpoint}/api/organizations/{org}/sso"
    got = httpx.get(url, headers={"authorization": f"Bearer {hub.alice}"})
    assert got.status_code == 200
    assert got.json()["clientSecretSet"] is True and SECRET not in got.text
    assert got.json()["roleMapping"] == MAPPING
    stranger = httpx.get(url)
    assert stranger.status_code == 401 and stranger.headers["x-error-message"]
    assert hub.cli("org", "add-member", org, "carol", "--role", "write").returncode == 0
    for token in (hub.carol, hub.bob, hub.alice_read):  # a writer, an outsider, a read token
        assert httpx.get(url, headers={"authorization": f"Bearer {token}"}).status_code == 403
        refused = configure(hub, org, settings(idp, secret="stolen"), token=token)
        assert refused.status_code == 403 and refused.headers["x-error-message"]
    page = httpx.get(f"{hub.endpoint}/organizations/{org}/settings/sso")
    assert page.status_code == 401


def test_malformed_settings_are_a_4xx(hub: Hub, idp: Idp, org: str) -> None:
    bad = [
        {**settings(idp), "defaultRole": "owner"},
        {**settings(idp), "roleMapping": {"x": "superuser"}},
        {**settings(idp), "issuer": "not a url"},
        {**settings(idp), "surprise": 1},
        {"clientId": "hub"},
    ]
    for body in bad:
        response = configure(hub, org, body)
        assert 400 <= response.status_code < 500 and response.headers["x-error-message"], body
    fresh = unique("ssonew")
    assert hub.cli("org", "create", fresh, "--owner", "alice").returncode == 0
    no_secret = configure(
        hub, fresh, {k: v for k, v in settings(idp).items() if k != "clientSecret"}
    )
    assert no_secret.status_code == 400
    assert httpx.get(f"{hub.endpoint}/organizations/{fresh}/sso/login").status_code == 404


def test_an_admin_turns_sso_off_and_only_an_admin(hub: Hub, idp: Idp) -> None:
    fresh = unique("ssooff")
    assert hub.cli("org", "create", fresh, "--owner", "alice").returncode == 0
    assert hub.cli("org", "add-member", fresh, "carol", "--role", "write").returncode == 0
    repo_id = f"{fresh}/{unique('private')}"
    HfApi(endpoint=hub.endpoint, token=hub.alice).create_repo(repo_id, private=True)
    assert configure(hub, fresh, {**settings(idp), "requireSso": True}).status_code == 200
    url = f"{hub.endpoint}/api/organizations/{fresh}/sso"
    carol = {"authorization": f"Bearer {hub.carol}"}
    assert httpx.get(f"{hub.endpoint}/api/models/{repo_id}", headers=carol).status_code == 403
    assert httpx.delete(url).status_code == 401
    for token in (hub.carol, hub.bob, hub.alice_read):  # a writer, an outsider, a read token
        refused = httpx.delete(url, headers={"authorization": f"Bearer {token}"})
        assert refused.status_code == 403 and refused.headers["x-error-message"]
    alice = {"authorization": f"Bearer {hub.alice}"}
    assert httpx.delete(url, headers=alice).status_code == 200
    assert httpx.get(url, headers=alice).status_code == 404
    assert httpx.delete(url, headers=alice).status_code == 404
    assert httpx.get(f"{hub.endpoint}/organizations/{fresh}/sso/login").status_code == 404
    assert httpx.get(f"{hub.endpoint}/api/models/{repo_id}", headers=carol).status_code == 200
    (entry,) = audit(hub, fresh, "sso.removed")
    assert entry["actor"] == "alice"


def test_settings_are_audited_without_the_secret(hub: Hub, org: str) -> None:
    entries = audit(hub, org, "sso.configured")
    assert entries and entries[-1]["actor"] == "alice"
    assert SECRET not in json.dumps(entries)


def test_first_sign_in_creates_the_account_and_maps_the_role(hub: Hub, idp: Idp, org: str) -> None:
    with httpx.Client(base_url=hub.endpoint) as http:
        done = sign_in(http, f"/organizations/{org}/sso/login?next=/{org}", "sub-dana")
        assert done.status_code == 303 and done.headers["location"] == f"/{org}"
        me = whoami(hub, http)
    assert me["name"] == "Dana-Admin" and me["email"] == "dana@example.com"
    assert {o["name"]: o["roleInOrg"] for o in me["orgs"]}[org] == "admin"
    logins = audit(hub, org, "auth.login")
    assert logins[0]["actor"] == "Dana-Admin" and logins[0]["data"]["method"] == "sso"
    added = audit(hub, org, "org.member_add")[0]
    assert added["data"] == {"member": "Dana-Admin", "role": [None, "admin"], "via": "sso"}


def test_a_later_sign_in_finds_the_same_account_and_applies_role_changes(
    hub: Hub, idp: Idp, org: str
) -> None:
    with httpx.Client(base_url=hub.endpoint) as http:
        sign_in(http, f"/organizations/{org}/sso/login", "sub-eve")
        first = whoami(hub, http)
    assert {o["name"]: o["roleInOrg"] for o in first["orgs"]}[org] == "contributor"
    idp.set_users({**USERS, "sub-eve": {**USERS["sub-eve"], "groups": ["engineers"]}})
    try:
        with httpx.Client(base_url=hub.endpoint) as http:
            sign_in(http, f"/organizations/{org}/sso/login", "sub-eve")
            second = whoami(hub, http)
        idp.set_users(
            {**USERS, "sub-eve": {k: v for k, v in USERS["sub-eve"].items() if k != "groups"}}
        )
        with httpx.Client(base_url=hub.endpoint) as http:
            sign_in(http, f"/organizations/{org}/sso/login", "sub-eve")
            third = whoami(hub, http)
    finally:
        idp.set_users(USERS)
    assert second["id"] == first["id"] == third["id"] and second["name"] == "eve"
    assert {o["name"]: o["roleInOrg"] for o in second["orgs"]}[org] == "write"
    assert {o["name"]: o["roleInOrg"] for o in third["orgs"]}[org] == "read"  # the default role
    changes = [e["data"]["role"] for e in audit(hub, org, "org.member_role") if e["actor"] == "eve"]
    assert changes[:2] == [["write", "read"], ["contributor", "write"]]


def test_a_bad_state_or_a_provider_error_is_a_clear_4xx(hub: Hub, idp: Idp, org: str) -> None:
    path = f"/organizations/{org}/sso/callback"
    with httpx.Client(base_url=hub.endpoint) as http:
        unknown = http.get(path, params={"state": "forged", "code": "x"})
        assert unknown.status_code == 400 and unknown.headers["x-error-code"] == "SsoFailed"
        start = http.get(f"/organizations/{org}/sso/login")
        state = httpx.URL(start.headers["location"]).params["state"]
        denied = http.get(path, params={"state": state, "error": "access_denied"})
        assert denied.status_code == 400 and "access_denied" in denied.headers["x-error-message"]
        used = http.get(path, params={"state": state, "code": "x"})  # a state is used once
        assert used.status_code == 400
    with httpx.Client(base_url=hub.endpoint) as other, httpx.Client(base_url=hub.endpoint) as own:
        state = httpx.URL(own.get(f"/organizations/{org}/sso/login").headers["location"]).params[
            "state"
        ]
        foreign = other.get(path, params={"state": state, "code": "x"})  # not this browser's
        assert foreign.status_code == 400 and "this browser" in foreign.headers["x-error-message"]
    failures = audit(hub, org, "auth.login_failed")
    assert len(failures) >= 4 and all(e["data"]["method"] == "sso" for e in failures)


def test_an_id_token_not_signed_with_the_providers_keys_is_refused(
    hub: Hub, idp: Idp, orgs: tuple[str, str]
) -> None:
    org = orgs[1]
    assert configure(hub, org, settings(idp, "hub-hs", HS_SECRET)).status_code == 200
    with httpx.Client(base_url=hub.endpoint) as http:
        refused = sign_in(http, f"/organizations/{org}/sso/login", "sub-eve")
    assert refused.status_code == 400, refused.text
    assert "ID token was refused" in refused.headers["x-error-message"]
    assert audit(hub, org, "auth.login_failed")[0]["data"]["method"] == "sso"
    assert not audit(hub, org, "auth.login")


def _real_id_token(hub: Hub, idp: Idp, org: str, nonce: str) -> str:
    """An ID token the provider signed for the hub's client, got as the hub would."""
    from hugbox.sso import oidc

    with httpx.Client() as http:
        provider = oidc.discover(http, idp.issuer)
        challenge = oidc.Challenge("s" * 43, nonce, "v" * 64)
        url = oidc.authorization_url(
            provider, client_id="hub", redirect_uri=callback(hub, org), challenge=challenge
        )
        response = http.get(url)
        while not str(response.headers.get("location", "")).startswith(callback(hub, org)):
            target = response.url.join(response.headers["location"])
            if "/interaction/" in target.path:
                response = http.post(target.join(f"{target.path}/login"), data={"sub": "sub-eve"})
            else:
                response = http.get(target)
        code = httpx.URL(response.headers["location"]).params["code"]
        return oidc.exchange_code(
            http,
            provider,
            code=code,
            redirect_uri=callback(hub, org),
            client_id="hub",
            client_secret=SECRET,
            code_verifier=challenge.code_verifier,
        )


def test_the_id_token_checks_refuse_a_wrong_nonce_audience_or_a_tampered_token(
    hub: Hub, idp: Idp, org: str
) -> None:
    from hugbox.sso import oidc

    token = _real_id_token(hub, idp, org, nonce="the-nonce")
    with httpx.Client() as http:
        provider = oidc.discover(http, idp.issuer)
        claims = oidc.verify_id_token(http, provider, token, client_id="hub", nonce="the-nonce")
        assert claims["sub"] == "sub-eve" and claims["groups"] == ["staff"]
        header, payload, signature = token.split(".")
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        forged = base64.urlsafe_b64encode(json.dumps({**body, "groups": ["hub-admins"]}).encode())
        tampered = f"{header}.{forged.decode().rstrip('=')}.{signature}"
        for bad, client_id, nonce in (
            (token, "hub", "another-nonce"),
            (token, "other", "the-nonce"),
            (tampered, "hub", "the-nonce"),
        ):
            with pytest.raises(oidc.SsoFailed):
                oidc.verify_id_token(http, provider, bad, client_id=client_id, nonce=nonce)


def test_require_sso_refuses_tokens_until_their_user_signs_in_through_it(
    hub: Hub, idp: Idp, org: str
) -> None:
    repo_id = f"{org}/{unique('private')}"
    HfApi(endpoint=hub.endpoint, token=hub.alice).create_repo(repo_id, private=True)
    assert hub.cli("org", "add-member", org, "bob", "--role", "read").returncode == 0
    info = f"{hub.endpoint}/api/models/{repo_id}"
    bob = {"authorization": f"Bearer {hub.bob}"}
    bob_api = HfApi(endpoint=hub.endpoint, token=hub.bob)
    assert httpx.get(info, headers=bob).status_code == 200
    assert repo_id in {m.id for m in bob_api.list_models(author=org)}
    assert configure(hub, org, {**settings(idp), "requireSso": True}).status_code == 200
    try:
        refused = httpx.get(info, headers=bob)
        assert refused.status_code == 403 and refused.headers["x-error-code"] == "SsoRequired"
        assert f"/organizations/{org}/sso" in refused.headers["x-error-message"]
        assert repo_id not in {m.id for m in bob_api.list_models(author=org)}  # nor its name
        assert repo_id not in httpx.get(f"{hub.endpoint}/{org}", headers=bob).text
        me = httpx.get(f"{hub.endpoint}/api/whoami-v2", headers=bob).json()
        assert {o["name"]: o.get("securityRestrictions") for o in me["orgs"]}[org] == ["sso"]
        assert httpx.get(info, headers={"authorization": f"Bearer {hub.alice}"}).status_code == 403
        assert hub.cli("org", "add-member", org, "carol", "--role", "write").returncode == 0
        with pytest.raises(HfHubHTTPError) as deleting:  # a writer's token, no SSO: no delete
            HfApi(endpoint=hub.endpoint, token=hub.carol).delete_repo(repo_id)
        assert deleting.value.response.headers["x-error-code"] == "SsoRequired"
        with httpx.Client(base_url=hub.endpoint) as http:  # bob's password session, then SSO
            page = http.get("/login").text
            csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
            form = {"csrf_token": csrf, "username": "bob", "password": "pw-bob", "next": "/"}
            assert http.post("/login", data=form).status_code == 303
            assert http.get(f"/{repo_id}").status_code == 403
            sign_in(http, f"/organizations/{org}/sso/login", "sub-bob")
            assert whoami(hub, http)["name"] == "bob"  # linked to the signed-in account
            assert http.get(f"/{repo_id}").status_code == 200
        assert httpx.get(info, headers=bob).status_code == 200  # bob signed in through SSO now
        assert repo_id in {m.id for m in bob_api.list_models(author=org)}
        me = httpx.get(f"{hub.endpoint}/api/whoami-v2", headers=bob).json()
        assert "securityRestrictions" not in {o["name"]: o for o in me["orgs"]}[org]
    finally:
        assert configure(hub, org, settings(idp)).status_code == 200


def test_require_sso_hides_the_orgs_private_repos_in_collections_likes_and_settings(
    hub: Hub, idp: Idp
) -> None:
    team = unique("ssolists")  # an org of its own: bob never signs in through its SSO
    assert hub.cli("org", "create", team, "--owner", "alice").returncode == 0
    assert hub.cli("org", "add-member", team, "bob", "--role", "read").returncode == 0
    repo_id = f"{team}/{unique('private')}"
    alice = HfApi(endpoint=hub.endpoint, token=hub.alice)
    alice.create_repo(repo_id, private=True)
    bob = HfApi(endpoint=hub.endpoint, token=hub.bob)
    like = f"{hub.endpoint}/api/models/{repo_id}/like"
    assert httpx.post(like, headers={"authorization": f"Bearer {hub.bob}"}).status_code == 200
    picks = bob.create_collection(unique("picks"), private=True)
    bob.add_collection_item(picks.slug, repo_id, "model")
    spare = bob.create_collection(unique("spare"))

    storage = f"{hub.endpoint}/api/organizations/{team}/settings/repositories"
    as_bob = {"authorization": f"Bearer {hub.bob}"}

    def shown() -> tuple[bool, bool]:
        liked = repo_id in bob.list_liked_repos("bob").models
        items = {item.item_id for item in bob.get_collection(picks.slug).items}
        return liked, repo_id in items

    assert shown() == (True, True)
    assert repo_id in {r["id"] for r in httpx.get(storage, headers=as_bob).json()}
    assert configure(hub, team, {**settings(idp), "requireSso": True}).status_code == 200
    try:
        assert shown() == (False, False)  # nor its name, as in the repo listings
        refused = httpx.get(storage, headers=as_bob)  # the org's storage settings list them all
        assert refused.status_code == 403 and repo_id not in refused.text
        assert f"/organizations/{team}/sso" in refused.headers["x-error-message"]
        owner = {"authorization": f"Bearer {hub.alice}"}  # nor its owner, without SSO either
        assert httpx.get(storage, headers=owner).status_code == 403
        with pytest.raises(HfHubHTTPError) as adding:
            bob.add_collection_item(spare.slug, repo_id, "model")
        assert adding.value.response.status_code == 404
        stranger = HfApi(endpoint=hub.endpoint, token=hub.carol)
        assert repo_id not in stranger.list_liked_repos("bob").models
    finally:
        assert configure(hub, team, settings(idp)).status_code == 200
    assert shown() == (True, True)  # the requirement lifted, they come back
    assert repo_id in {r["id"] for r in httpx.get(storage, headers=as_bob).json()}
