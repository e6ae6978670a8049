"""PostgreSQL only: a thread that LISTENs for new jobs and wakes the workers of its process.

LISTEN holds a session's state, so it needs a connection of its own straight to the server: not
one from the pool (given back and reused after each transaction), and not through PgBouncer in
transaction mode (which would hand the session to someone else). NOTIFY itself, sent by
`service.enqueue` in the caller's transaction, may go through either.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy.engine import make_url

from hugbox.jobs.service import CHANNEL

log = logging.getLogger(__name__)

CHECK_S = 0.2  # how often the thread looks up from the socket to see whether it should stop
RETRY_S = 2.0  # after losing the server, how long before connecting again


def conninfo(url: str) -> str:
    """psycopg's form of a SQLAlchemy URL (`postgresql+psycopg://…` → `postgresql://…`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """Calls `notified` for each job notification, and once each time it (re)connects: what was
    enqueued while it was not listening is found by the claim that follows."""

    def __init__(self, url: str, notified: Callable[[], None], stop: threading.Event) -> None:
        self._conninfo = conninfo(url)
        self._notified = notified
        self._stop = stop
        self.listening = threading.Event()  # set while LISTEN is in force

    def run(self) -> None:
        """Until `stop`: listen, and after any failure connect again. The thread must not end
        early: the workers would go on sleeping 5 s between looks."""
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:  # the server restarted or the network blinked
                log.warning("job listener lost its connection (%s); workers poll meanwhile", exc)
            except Exception:
                log.exception("job listener failed; workers poll meanwhile")
            finally:
                self.listening.clear()
            self._stop.wait(RETRY_S)

    def _listen(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            self._notified()
            while not self._stop.is_set():
                for _ in connection.notifies(timeout=CHECK_S):
                    self._notified()
