"""When and from where each token was last used, and the audit entry of a new address.

Every request that authenticates notes its token here (`note`, from `authenticate` and
`bearer_of`, in whichever thread they run); once the response is sent,
`hugbox.middleware.TokenUseMiddleware` writes what is due: at most once a minute per token and
address, so a client's thousand downloads cost one write, not a thousand.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hugbox import audit
from hugbox.auth.models import SESSION_TOKEN_NAME, Token, TokenAddress
from hugbox.db import Database, utcnow

log = logging.getLogger(__name__)
INTERVAL_S = 60.0

# The ids of the tokens the current request authenticated with. A list the middleware sets
# per request and dependencies append to: threads see a copy of the context, but the same list.
_used: ContextVar[list[int] | None] = ContextVar("tokens_used", default=None)


def note(token_id: int) -> None:
    used = _used.get()
    if used is not None:
        used.append(token_id)


class TokenUses:
    """Which (token, address) pairs were written lately, in memory; the database otherwise."""

    def __init__(self, database: Database, interval_s: float = INTERVAL_S):
        self.database = database
        self.interval_s = interval_s
        self._written: dict[tuple[int, str], float] = {}
        self._lock = threading.Lock()

    def due(self, token_id: int, ip: str) -> bool:
        """Whether this use is to be written (and, if so, the next one within the interval is
        not): a dictionary lookup on every request."""
        now = time.monotonic()
        with self._lock:
            last = self._written.get((token_id, ip))
            if last is not None and now - last < self.interval_s:
                return False
            if len(self._written) > 100_000:  # forget all rather than grow without bound
                self._written.clear()
            self._written[(token_id, ip)] = now
            return True

    def write(self, token_id: int, ip: str) -> None:
        """Set the token's last use; a first use from `ip` is audited."""
        try:
            with self.database.session() as session:
                stamp = {"last_used_at": utcnow(), "last_used_ip": ip}
                session.execute(update(Token).where(Token.id == token_id).values(**stamp))
                if session.get(TokenAddress, (token_id, ip)) is None:
                    session.add(TokenAddress(token_id=token_id, ip=ip))
                    _audit_new_address(session, token_id, ip)
        except IntegrityError:  # revoked meanwhile, or another replica saw the address first
            log.debug("token %s: use from %s not recorded", token_id, ip)


def _audit_new_address(session: Session, token_id: int, ip: str) -> None:
    token = session.scalar(select(Token).where(Token.id == token_id))
    if token is None or token.name == SESSION_TOKEN_NAME:  # a browser's is its sign-in's
        return
    audit.record(session, "token.used_from_new_address", actor=token.user.name,
                 namespace=token.user.name, token=token.name, token_id=token.id)  # fmt: skip


def start_request() -> list[int]:
    """A fresh list of the current request's tokens (hugbox.middleware.TokenUseMiddleware)."""
    used: list[int] = []
    _used.set(used)
    return used
