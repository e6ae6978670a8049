""" "Require SSO" where repos and whoami ask: a member reaches the org's private repos only with
a credential that came through the org's SSO recently (`service.satisfied`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from hugbox.auth.recent import RecentAccess
from hugbox.auth.service import Caller, Principal
from hugbox.repos.models import RepoFields
from hugbox.sso import service
from hugbox.sso.service import SsoRequired


@dataclass(frozen=True)
class RequireSso:
    """The repos hook (`RepoHooks.access_check`) and whoami's `securityRestrictions`."""

    max_age: timedelta
    # Whether each org requires SSO, for a second: members' reads of private repos are among
    # the most frequent calls, and most orgs have no SSO. A change takes effect within it.
    recent: RecentAccess = field(default_factory=lambda: RecentAccess(ttl_s=1.0))

    def _requires(self, db: Session | Connection, org_id: int) -> bool:
        key = ("sso", org_id)
        known: bool | None = self.recent.get(key)
        if known is None:
            known = service.requires_sso(db, org_id)
            self.recent.put(key, known)
        return known

    def forget(self, org_id: int) -> None:
        """The org's settings changed: this process asks again (other processes and replicas
        within the second)."""
        self.recent.put(("sso", org_id), None)

    def _blocked(self, db: Session | Connection, caller: Principal, org_id: int) -> bool:
        if caller.user_id is None or caller.is_admin or caller.org_role(org_id) is None:
            return False  # strangers are refused (or not) by the repo's own rules
        if not self._requires(db, org_id):
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
