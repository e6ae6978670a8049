""" "Require SSO" where repos and whoami ask: a member reaches the org's private repos only with
a credential that came through the org's SSO recently (`service.satisfied`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hugbox.auth.service import Caller, Principal
from hugbox.repos.models import RepoFields
from hugbox.sso import service
from hugbox.sso.service import SsoRequired


@dataclass(frozen=True)
class RequireSso:
    """The repos hook (`RepoHooks.access_check`) and whoami's `securityRestrictions`."""

    max_age: timedelta

    def _blocked(self, db: Session | Connection, caller: Principal, org_id: int) -> bool:
        if caller.user_id is None or caller.is_admin or caller.org_role(org_id) is None:
            return False  # strangers are refused (or not) by the repo's own rules
        if not service.requires_sso(db, org_id):
            return False
        token = caller.token if isinstance(caller, Caller) else None
        return not service.satisfied(
            db, org_id=org_id, user_id=caller.user_id, token=token, max_age=self.max_age
        )

    def check_repo(self, db: Session | Connection, caller: Principal, repo: RepoFields) -> None:
        # Public repos need no SSO; only a member's access to a private one is in question.
        if repo.private and self._blocked(db, caller, repo.owner_id):
            raise SsoRequired(repo.repo_id.partition("/")[0])

    def restrictions(self, session: Session, caller: Caller) -> Mapping[int, list[str]]:
        orgs = caller.user.memberships if caller.user else []
        return {m.org_id: ["sso"] for m in orgs if self._blocked(session, caller, m.org_id)}
