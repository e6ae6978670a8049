"""The gated repo page's form: a logged-in user asks for access to its files."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from hugbox.auth.sessions import PageCaller
from hugbox.deps import SessionDep
from hugbox.errors import Forbidden
from hugbox.gated import service as gated
from hugbox.repos.pages import PageRepo, add_repo_page, repo_path, see_other
from hugbox.web.session import CheckedForm

router = APIRouter(tags=["pages"])


def ask_access(
    repo: PageRepo, session: SessionDep, caller: PageCaller, form: CheckedForm
) -> Response:
    if caller.user is None:
        raise Forbidden("Log in to ask for access")
    gated.ask_access(session, repo=repo, user=caller.user)
    return see_other(repo_path(repo))


add_repo_page(router, "/ask-access", ask_access, ("POST",))
