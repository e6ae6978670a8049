"""The URL map is a contract: every method + path the clients call is pinned here."""

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from hugbox.app import create_app
from hugbox.settings import Settings

API = "/api/{repo_type:repotype}/{namespace}/{name}"
FILE = "/{namespace}/{name}"
PREFIXED = "/{repo_type:prefixtype}/{namespace}/{name}"

PINNED = {
    ("GET", "/api/whoami-v2"),
    ("GET", "/api/agent-harnesses"),
    ("POST", "/api/validate-yaml"),
    ("POST", "/api/repos/create"),
    ("DELETE", "/api/repos/delete"),
    ("POST", "/api/repos/move"),
    ("GET", "/api/{repo_type:repotype}"),
    ("GET", API),
    ("GET", API + "/revision/{revision:path}"),
    ("PUT", API + "/settings"),
    ("GET", API + "/auth-check"),
    ("GET", API + "/auth-check/write"),
    ("GET", API + "/tree/{revision}"),
    ("GET", API + "/tree/{revision}/{path:path}"),
    ("POST", API + "/paths-info/{revision}"),
    ("POST", API + "/preupload/{revision}"),
    ("POST", API + "/commit/{revision}"),
    ("POST", API + "/branch/{branch:path}"),
    ("DELETE", API + "/branch/{branch:path}"),
    ("POST", API + "/tag/{revision:path}"),
    ("POST", API + "/super-squash/{branch:path}"),
    ("DELETE", API + "/tag/{tag:path}"),
    ("GET", API + "/refs"),
    ("GET", API + "/commits/{revision:path}"),
    ("POST", API + "/discussions"),
    ("GET", API + "/discussions"),
    ("GET", API + "/discussions/{num}"),
    ("POST", API + "/discussions/{num}/comment"),
    ("POST", API + "/discussions/{num}/comment/{comment_id}/edit"),
    ("POST", API + "/discussions/{num}/comment/{comment_id}/hide"),
    ("POST", API + "/discussions/{num}/title"),
    ("POST", API + "/discussions/{num}/status"),
    ("POST", API + "/discussions/{num}/merge"),
    ("POST", API + "/lfs-verify"),
    ("POST", API + "/ask-access"),
    ("GET", API + "/user-access-request/{status}"),
    ("POST", API + "/user-access-request/handle"),
    ("POST", API + "/user-access-request/grant"),
    ("GET", API + "/scan"),
    ("GET", FILE + "/resolve/{revision}/{path:path}"),
    ("HEAD", FILE + "/resolve/{revision}/{path:path}"),
    ("GET", PREFIXED + "/resolve/{revision}/{path:path}"),
    ("HEAD", PREFIXED + "/resolve/{revision}/{path:path}"),
    ("POST", "/{namespace}/{name}.git/info/lfs/objects/batch"),
    ("POST", "/{namespace}/{name}.git/info/lfs/locks/verify"),
    ("POST", "/{repo_type:prefixtype}/{namespace}/{name}.git/info/lfs/objects/batch"),
    ("POST", "/{repo_type:prefixtype}/{namespace}/{name}.git/info/lfs/locks/verify"),
    ("POST", "/models/{namespace}/{name}"),
    ("POST", "/models/{namespace}/{name}/pipeline/{task}"),
    ("POST", "/pipeline/{task}/{namespace}/{name}"),
    ("GET", "/health"),
    ("GET", "/ready"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/models/{namespace}/{name}/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("GET", "/v1/models"),
    ("POST", "/v1/completions"),
    ("POST", "/models/{namespace}/{name}/v1/completions"),
    ("POST", "/models/{namespace}/{name}/v1/embeddings"),
    ("GET", "/models/{namespace}/{name}/v1/models"),
    ("POST", "/models/{namespace}/{name}/generate"),
    ("POST", "/models/{namespace}/{name}/generate_stream"),
    ("GET", "/models/{namespace}/{name}/info"),
    ("GET", "/status/{namespace}/{name}"),
    ("GET", "/metrics"),
    ("PUT", "/api/lfs/objects/{oid}"),
    ("GET", "/api/lfs/objects/{oid}"),
    ("POST", "/api/lfs/objects/{oid}/verify"),
    ("PUT", "/api/lfs/multipart/{oid}/{part}"),
    ("POST", "/api/lfs/multipart/{oid}"),
    ("POST", "/api/lfs/s3-multipart/{oid}"),  # completes a direct upload into the bucket
}
# Xet: token endpoints on the hub API, the CAS under its storage epoch, telemetry at the root.
PINNED |= {
    ("GET", API + "/xet-read-token/{revision:path}"),
    ("GET", API + "/xet-write-token/{revision:path}"),
    ("POST", API + "/lfs-files/duplicate"),
    ("POST", "/xet/{epoch}/v1/xorbs/{prefix}/{xorb}"),
    ("POST", "/xet/{epoch}/v1/shards"),
    ("GET", "/xet/{epoch}/v1/chunks/{prefix}/{chunk}"),
    ("GET", "/xet/{epoch}/v1/reconstructions/{file}"),
    ("GET", "/xet/{epoch}/v2/reconstructions/{file}"),
    ("GET", "/xet/{epoch}/v1/fetch/{xorb}"),
    ("POST", "/v1/telemetry"),
}
# Spaces: the runtime API huggingface_hub calls, and duplicating any repo.
SPACE = "/api/{repo_type:spacetype}/{namespace}/{name}"
PINNED |= {
    ("POST", API + "/duplicate"),
    ("GET", "/api/spaces/hardware"),
    ("GET", SPACE + "/runtime"),
    ("GET", SPACE + "/host"),
    ("POST", SPACE + "/restart"),
    ("POST", SPACE + "/pause"),
    ("POST", SPACE + "/sleeptime"),
    ("POST", SPACE + "/hardware"),
    ("GET", SPACE + "/logs/{kind}"),
}
PINNED |= {
    (method, SPACE + f"/{what}")
    for what in ("secrets", "variables")
    for method in ("GET", "POST", "DELETE")
}
# The dataset viewer (datasets-server API), also answered at the root for its own host name.
PINNED |= {
    ("GET", f"/datasets-server/{name}")
    for name in ("is-valid", "splits", "first-rows", "rows", "search", "filter", "parquet",
                 "info", "size", "statistics",
                 "assets/{namespace}/{name}/--/{config}/{split}/{row_idx}/{column}/{filename}")
}  # fmt: skip
# git smart HTTP: every clone URL (models, `datasets/`, `spaces/`; `.git` or not).
GIT_ROOTS = [
    f"{p}/{{namespace}}/{{name}}{s}" for p in ("", "/{repo_type:prefixtype}") for s in (".git", "")
]
PINNED |= {
    (method, root + path)
    for root in GIT_ROOTS
    for method, path in (
        ("GET", "/info/refs"),
        ("POST", "/git-upload-pack"),
        ("POST", "/git-receive-pack"),
    )
}
# Web pages (HTML): the site's own, then the same set under every repo URL.
PINNED |= {
    ("GET", "/"),
    ("GET", "/static/{name}"),
    ("GET", "/models"),
    ("GET", "/datasets"),
    ("GET", "/spaces"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/join"),
    ("POST", "/join"),
    ("POST", "/logout"),
    ("GET", "/new"),
    ("POST", "/new"),
    ("GET", "/settings/tokens"),
    ("POST", "/settings/tokens"),
    ("POST", "/settings/tokens/{token_id}/delete"),
    ("GET", "/organizations/new"),
    ("POST", "/organizations/new"),
    ("GET", "/organizations/{org}/members"),
    ("POST", "/organizations/{org}/members"),
    ("GET", "/{namespace}"),
}
PINNED |= {
    (method, root + path)
    for root in (FILE, PREFIXED)
    for method, path in (
        ("GET", ""),
        ("GET", "/tree/{revision}"),
        ("GET", "/tree/{revision}/{path:path}"),
        ("GET", "/blob/{revision}/{path:path}"),
        ("GET", "/commits/{revision}"),
        ("GET", "/commit/{sha}"),
        ("GET", "/tokenizer"),
        ("GET", "/upload/{revision}"),
        ("POST", "/upload/{revision}"),
        ("GET", "/edit/{revision}/{path:path}"),
        ("POST", "/edit/{revision}/{path:path}"),
        ("POST", "/delete/{revision}/{path:path}"),
        ("GET", "/settings"),
        ("POST", "/settings"),
        ("POST", "/settings/move"),
        ("POST", "/settings/delete"),
        ("POST", "/ask-access"),
        ("POST", "/settings/security"),
    )
}
# Community pages (HTML): the Community tab, a new discussion, a discussion and its forms.
PINNED |= {
    (method, root + path)
    for root in (FILE, PREFIXED)
    for method, path in (
        ("GET", "/discussions"),
        ("GET", "/discussions/new"),
        ("POST", "/discussions/new"),
        ("GET", "/discussions/{num:int}"),
        ("POST", "/discussions/{num:int}/comment"),
        ("POST", "/discussions/{num:int}/status"),
        ("POST", "/discussions/{num:int}/merge"),
    )
}
# Space settings forms (HTML), under spaces' URLs only.
PINNED |= {
    ("POST", "/{repo_type:spacetype}/{namespace}/{name}/settings/" + what)
    for what in ("secrets", "secrets/delete", "variables", "variables/delete", "sleep-time")
}
# A namespace's repos with their storage (`list_user_repos`, `hf repos list`).
PINNED |= {
    ("GET", "/api/settings/repositories"),
    ("GET", "/api/organizations/{namespace}/settings/repositories"),
}
# huggingface.co's own services (`hf jobs`, `hf buckets`, `hf papers`): a 404 that says so.
PINNED |= {
    (method, f"/api/{service}{rest}")
    for service in ("jobs", "scheduled-jobs", "buckets", "papers", "daily_papers")
    for rest in ("", "/{rest:path}")
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
}
# Webhooks (`create_webhook`, `list_webhooks`, ... and HF's replay), and their settings pages.
HOOK = "/api/settings/webhooks/{webhook_id}"
PINNED |= {
    ("GET", "/api/settings/webhooks"), ("POST", "/api/settings/webhooks"), ("GET", HOOK),
    ("POST", HOOK), ("DELETE", HOOK), ("POST", HOOK + "/enable"), ("POST", HOOK + "/disable"),
    ("POST", HOOK + "/replay/{delivery_id}"),
    ("GET", "/settings/webhooks"), ("POST", "/settings/webhooks"),
    ("GET", "/settings/webhooks/{webhook_id}"), ("POST", "/settings/webhooks/{webhook_id}"),
    ("POST", "/settings/webhooks/{webhook_id}/enable"),
    ("POST", "/settings/webhooks/{webhook_id}/disable"),
    ("POST", "/settings/webhooks/{webhook_id}/delete"),
    ("POST", "/settings/webhooks/{webhook_id}/deliveries/{delivery_id}/replay"),
}  # fmt: skip
# Gated repos: the admins' review page and its forms; the requester's notifications.
PINNED |= {
    (method, f"{prefix}/{{namespace}}/{{name}}/access-requests{rest}")
    for prefix in ("", "/{repo_type:prefixtype}")
    for method, rest in (("GET", ""), ("POST", "/handle"), ("POST", "/grant"))
}
PINNED |= {("GET", "/notifications"), ("POST", "/notifications/read")}
# A repo's large files, to free space (`list_lfs_files`, `permanently_delete_lfs_files`), and
# the usage pages: an account's storage, the site admins' view.
PINNED |= {
    ("GET", API + "/lfs-files"),
    ("POST", API + "/lfs-files/batch"),
    ("GET", "/settings/storage"),
    ("GET", "/organizations/{org}/settings/storage"),
    ("GET", "/admin/usage"),
    ("GET", "/api/admin/usage"),
}
# Likes and collections (social/): the API huggingface_hub calls, and their pages.
COLLECTION = "/api/collections/{namespace}/{slug}"
PINNED |= {
    ("POST", API + "/like"),
    ("DELETE", API + "/like"),
    ("GET", API + "/likers"),
    ("GET", "/api/users/{user}/likes"),
    ("GET", "/api/collections"),
    ("POST", "/api/collections"),
    ("GET", COLLECTION),
    ("PATCH", COLLECTION),
    ("DELETE", COLLECTION),
    ("POST", COLLECTION + "/items"),
    ("PATCH", COLLECTION + "/items/{item_id}"),
    ("DELETE", COLLECTION + "/items/{item_id}"),
    ("POST", COLLECTION + "/resource-group"),
    ("POST", FILE + "/like"),
    ("POST", PREFIXED + "/like"),
    ("GET", "/collections/{namespace}"),
    ("POST", "/collections/{namespace}"),
    ("GET", "/collections/{namespace}/{slug}"),
    ("POST", "/collections/{namespace}/{slug}/settings"),
    ("POST", "/collections/{namespace}/{slug}/delete"),
    ("POST", "/collections/{namespace}/{slug}/items"),
    ("POST", "/collections/{namespace}/{slug}/items/{item_id}"),
}
# The audit log, for an org's admins and for site admins (API, export, pages).
PINNED |= {
    ("GET", "/api/organizations/{org}/audit-log"),
    ("GET", "/api/organizations/{org}/audit-log/export"),
    ("GET", "/api/admin/audit-log"),
    ("GET", "/api/admin/audit-log/export"),
    ("GET", "/organizations/{org}/settings/audit-log"),
    ("GET", "/organizations/{org}/settings/audit-log.jsonl"),
    ("GET", "/admin/audit-log"),
    ("GET", "/admin/audit-log.jsonl"),
    # single sign-on for organisations (sso/)
    ("GET", "/api/organizations/{org}/sso"),
    ("PUT", "/api/organizations/{org}/sso"),
    ("DELETE", "/api/organizations/{org}/sso"),
    ("GET", "/organizations/{org}/sso"),
    ("GET", "/organizations/{org}/sso/login"),
    ("GET", "/organizations/{org}/sso/callback"),
    ("GET", "/organizations/{org}/settings/sso"),
    ("POST", "/organizations/{org}/settings/sso"),
}
# Plans: the admin's page (assign plans) and each user's usage page.
PINNED |= {("GET", "/admin/plans"), ("POST", "/admin/plans"), ("GET", "/settings/usage")}
FRAMEWORK = {"/openapi.json", "/api/docs", "/docs/oauth2-redirect"}


def _routes(router: Any) -> set[tuple[str, str]]:
    found = set()
    for route in router.routes:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:
            found |= _routes(inner)
        elif getattr(route, "path", None) not in FRAMEWORK:
            found |= {(method, route.path) for method in route.methods}
    return found


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    """The app, never started: its database's pool is closed after the test all the same."""
    app = create_app(settings)
    yield app
    app.state.context.close()


def test_every_route_is_pinned(app: FastAPI) -> None:
    routes = _routes(app.router)
    assert routes - PINNED == set(), "new routes: pin them here"
    assert PINNED - routes == set(), "routes clients call are missing"


def test_every_route_and_its_parameters_are_in_the_openapi_document(app: FastAPI) -> None:
    """The document is the API's reference and the fuzzer's map (tests/functional/test_fuzz.py)."""
    paths = app.openapi()["paths"]
    documented = {
        (method.upper(), path) for path, operations in paths.items() for method in operations
    }
    routes = {
        (method, re.sub(r"{(\w+):\w+}", r"{\1}", path)) for method, path in _routes(app.router)
    }
    assert routes - documented == set()
    for path, operations in paths.items():
        for operation in operations.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), path
