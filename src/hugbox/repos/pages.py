"""Repo pages: home, explore, create, the repo page (card, snippets, widget) and its settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import object_session
from starlette.concurrency import run_in_threadpool

from hugbox.auth.models import OrgRole
from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep, SettingsDep, StoreDep
from hugbox.errors import BadRequest, HubError
from hugbox.repos import access, browse, indexer, playground, service
from hugbox.repos.deps import load_repo
from hugbox.repos.hooks import HooksDep
from hugbox.repos.models import Repo, RepoType
from hugbox.repos.service import Need, RepoQuery
from hugbox.urls import base_url
from hugbox.web.markdown import render_markdown
from hugbox.web.session import CheckedForm
from hugbox.web.templates import render

router = APIRouter(tags=["pages"])
REPO_PREFIXES = ("", "/{repo_type:prefixtype}")
SORTS = {"trending": "trendingScore", "downloads": "downloads", "likes": "likes",
         "updated": "lastModified", "created": "createdAt"}  # fmt: skip
WIDGET_TASKS = {
    "text-generation", "text2text-generation", "text-classification", "token-classification",
    "fill-mask", "feature-extraction", "sentence-similarity", "image-classification",
    "question-answering", "summarization", "translation",
}  # fmt: skip
LICENSES = ["apache-2.0", "mit", "bsd-3-clause", "cc-by-4.0", "cc-by-sa-4.0", "gpl-3.0", "other"]
PAGE_SIZE = 30


def _loader(need: Need) -> Callable[..., Repo]:
    def load(request: Request, session: SessionDep, caller: PageCaller) -> Repo:
        return load_repo(request, session, caller, need)

    return load


PageRepo = Annotated[Repo, Depends(_loader(Need.READ))]
FilesRepo = Annotated[Repo, Depends(_loader(Need.DOWNLOAD))]
WritablePageRepo = Annotated[Repo, Depends(_loader(Need.WRITE))]
ContributingPageRepo = Annotated[Repo, Depends(_loader(Need.CONTRIBUTE))]  # may open a PR


def add_repo_page(
    target: APIRouter, path: str, handler: Callable[..., Any], methods: tuple[str, ...]
) -> None:
    """Register a page under every repo URL: `/ns/name…`, `/datasets/…`, `/spaces/…`."""
    for prefix in REPO_PREFIXES:
        target.add_api_route(f"{prefix}/{{namespace}}/{{name}}{path}", handler, methods=[*methods])


def repo_page(
    path: str, *, methods: tuple[str, ...] = ("GET",)
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        add_repo_page(router, path, handler, methods)
        return handler

    return register


def repo_path(repo: Repo) -> str:
    return f"/{repo.type.url_prefix}{repo.repo_id}"


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


@router.get("/")
def home(request: Request, session: SessionDep, caller: PageCaller, hooks: HooksDep) -> Response:
    sections = {}
    hidden = hooks.unreachable_orgs(session, caller)
    for repo_type in RepoType:
        query = RepoQuery(repo_type=repo_type, search=[], sort="downloads")
        sections[repo_type] = browse.explore(
            session, caller=caller, hidden_owners=hidden, query=query, page=0, page_size=6
        )[0]
    return render(request, "home.html", sections=sections)


def _explore(
    request: Request,
    session: SessionDep,
    caller: PageCaller,
    hooks: HooksDep,
    search: str = "",
    task: str = "",
    library: str = "",
    license: str = "",
    author: str = "",
    tags: Annotated[list[str] | None, Query()] = None,
    sort: str = "trending",
    p: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> Response:
    repo_type = RepoType.from_plural(request.url.path.strip("/"))
    filters = [t for t in (tags or []) if t] + ([f"license:{license}"] if license else [])
    query = RepoQuery(
        repo_type=repo_type, search=search.split(), author=author or None,
        filters=tuple(filters + ([library] if library else [])),
        sort=SORTS.get(sort, "downloads"), pipeline_tag=task or None,
    )  # fmt: skip
    hidden = hooks.unreachable_orgs(session, caller)
    repos, more = browse.explore(
        session, caller=caller, hidden_owners=hidden, query=query, page=p, page_size=PAGE_SIZE
    )
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "p" and v]
    return render(
        request, "explore.html", repo_type=repo_type, repos=repos, page=p,
        prev_url=f"?{urlencode([*params, ('p', p - 1)])}" if p > 0 else None,
        next_url=f"?{urlencode([*params, ('p', p + 1)])}" if more else None,
        facets=browse.facets(session, repo_type), sorts=list(SORTS), licenses=LICENSES,
        search=search, task=task, library=library, license=license, author=author,
        tags=" ".join(tags or []), sort=sort,
    )  # fmt: skip


for _plural in ("models", "datasets", "spaces"):
    router.add_api_route(f"/{_plural}", _explore, methods=["GET"])


@router.get("/new")
def new_repo_page(request: Request, caller: PageCaller) -> Response:
    if caller.user is None:
        return see_other("/login?next=/new")
    owners = [caller.user.name] + [
        m.org.name for m in caller.user.memberships if m.role.rank >= OrgRole.CONTRIBUTOR.rank
    ]
    return render(
        request, "new_repo.html", owners=owners, licenses=LICENSES, types=list(RepoType),
        error=None,
    )  # fmt: skip


@router.post("/new")
def create_repo(
    request: Request, session: SessionDep, store: StoreDep, caller: PageCaller, form: CheckedForm
) -> Response:
    fields = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    repo_type = RepoType(fields.get("type") or "model")
    repo = service.create_repo(
        session, store, caller=caller, repo_type=repo_type, namespace=fields.get("owner"),
        name=fields.get("name", ""), private=fields.get("visibility") == "private",
        sdk=fields.get("sdk") or ("static" if repo_type is RepoType.SPACE else None),
    )  # fmt: skip
    license_id = fields.get("license")
    if license_id:
        from hugbox.repos.files_pages import commit_text

        card = f"---\nlicense: {license_id}\n---\n\n# {repo.name}\n"
        commit_text(session, store, caller, repo, "main", "README.md", card, "Add README.md")
    return see_other(repo_path(repo))


def _transformers_snippet(base: str, rid: str, task: str | None) -> str:
    """A pipeline for the repo's own task; with no task, no guess at one: load the weights."""
    if task:
        use = f'from transformers import pipeline\n\npipe = pipeline("{task}", model="{rid}")'
    else:
        use = f'from transformers import AutoModel\n\nmodel = AutoModel.from_pretrained("{rid}")'
    return f"# export HF_ENDPOINT={base}\n{use}"


def _snippets(base: str, repo: Repo, task: str | None) -> dict[str, str]:
    rid = repo.repo_id
    clone = f"git clone {base}{repo_path(repo)}"
    snippets = {
        "huggingface_hub": (
            f"# export HF_ENDPOINT={base}\nfrom huggingface_hub import snapshot_download\n\n"
            f'snapshot_download(repo_id="{rid}", repo_type="{repo.type.value}")'
        ),
        "git": f"git lfs install\n{clone}",
    }
    if repo.type is RepoType.MODEL:
        snippets = {
            "transformers": _transformers_snippet(base, rid, task),
            **snippets,
            "curl": (
                f'curl {base}/models/{rid} \\\n  -H "Authorization: Bearer $HF_TOKEN" \\\n'
                "  -H 'Content-Type: application/json' \\\n  -d '{\"inputs\": \"Hello\"}'"
            ),
        }
    if repo.type is RepoType.DATASET:
        snippets["datasets"] = (
            f"# export HF_ENDPOINT={base}\nfrom datasets import load_dataset\n\n"
            f'ds = load_dataset("{rid}")'
        )
    return snippets


@repo_page("")
def show_repo(
    request: Request, repo: PageRepo, store: StoreDep, session: SessionDep, caller: PageCaller,
    hooks: HooksDep,
) -> Response:  # fmt: skip
    view = browse.overview(store, repo, "main")
    card = view.snapshot.card
    task = view.snapshot.pipeline_tag
    sections = hooks.sections(hooks.repo_page, request, session, repo)  # a space's app
    embedded = getattr(sections.get("space"), "origin", None)
    return render(
        request, "repo.html", repo=repo, tab="card", view=view, card=card,
        card_html=render_markdown(view.readme) if view.readme else "",
        snippets=_snippets(base_url(request), repo, task), task=task,
        widget=repo.type is RepoType.MODEL and task in WIDGET_TASKS,
        has_tokenizer=repo.type is RepoType.MODEL and playground.has_tokenizer(view.files),
        side=_side_panel(card, view.snapshot),
        can_download=access.can_download(session, caller, repo),
        frame_src=embedded, **sections,
    )  # fmt: skip


def _listed(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _side_panel(card: dict[str, Any], snap: indexer.Snapshot) -> dict[str, list[str]]:
    panel = {
        "Task": _listed(snap.pipeline_tag),
        "Library": _listed(snap.library_name),
        "License": _listed(card.get("license")),
        "Languages": _listed(card.get("language")),
        "Datasets": _listed(card.get("datasets")),
        "Base model": _listed(card.get("base_model")),
    }
    return {k: v for k, v in panel.items() if v}


@repo_page("/tokenizer")
async def tokenizer_page(
    request: Request, repo: FilesRepo, store: StoreDep, text: str = "", revision: str = "main"
) -> Response:
    encoding, error = None, None
    sample = text or "Hello world! Tokenizers split text into pieces."
    try:
        encoding = await run_in_threadpool(playground.encode, store, repo, revision, sample)
    except HubError as exc:
        error = exc.message
    return render(
        request, "tokenizer.html", repo=repo, tab="tokenizer", text=sample, encoding=encoding,
        error=error,
    )  # fmt: skip


@repo_page("/settings")
def settings_page(
    request: Request, repo: WritablePageRepo, session: SessionDep, hooks: HooksDep
) -> Response:
    return render(
        request, "repo_settings.html", repo=repo, tab="settings", error=None,
        **hooks.sections(hooks.settings_page, request, session, repo),
    )  # fmt: skip


@repo_page("/settings", methods=("POST",))
def update_settings(
    repo: WritablePageRepo, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    gated = str(form.get("gated") or "false")
    service.update_settings(
        session, repo=repo, private=form.get("visibility") == "private",
        gated=False if gated == "false" else gated,
        actor=caller.user.name if caller.user else None,
    )  # fmt: skip
    return see_other(f"{repo_path(repo)}/settings")


@repo_page("/settings/move", methods=("POST",))
def move_repo(
    repo: WritablePageRepo, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    target = str(form.get("to") or "").strip()
    service.move_repo(session, caller=caller, repo=repo, to_repo_id=target)
    return see_other(repo_path(repo))


@repo_page("/settings/delete", methods=("POST",))
def delete_repo(
    repo: WritablePageRepo, session: SessionDep, store: StoreDep, caller: PageCaller,
    form: CheckedForm, settings: SettingsDep,
) -> Response:  # fmt: skip
    if str(form.get("confirm") or "").strip() != repo.repo_id:
        raise BadRequest(f"Type {repo.repo_id} to confirm the deletion")
    owner = repo.namespace
    service.delete_repo(session, store, repo=repo, actor=caller.user.name if caller.user else None)
    return see_other(f"/{quote(owner)}")


def repo_header_context(request: Request, context: dict[str, Any]) -> None:
    """What the repo header needs on every repo page: its links and which tabs it has (a
    `page_context` processor of web.templates)."""
    repo = context.get("repo")
    if not isinstance(repo, Repo):
        return
    context.setdefault("base", f"/{repo.type.url_prefix}{repo.repo_id}")
    if "has_tokenizer" not in context:
        context["has_tokenizer"] = playground.repo_has_tokenizer(request.app.state.store, repo)
    if "can_write" not in context:
        context["can_write"] = _may_write(request, repo)


def _may_write(request: Request, repo: Repo) -> bool:
    """Whether the page's viewer may change the repo: only then has the header a Settings tab."""
    caller, session = getattr(request.state, "caller", None), object_session(repo)
    if caller is None or caller.user is None or session is None:
        return False
    try:
        service.authorize(session, caller, repo, Need.WRITE)
    except HubError:
        return False
    return True
