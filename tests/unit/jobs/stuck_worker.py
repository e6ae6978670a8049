"""A worker process whose one job never ends, for the test that kills it mid-job.

Run: python stuck_worker.py DATABASE_URL STARTED_FILE
It writes its worker name to STARTED_FILE when the job starts, then beats until killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from hugbox.db import Database
from hugbox.jobs.worker import Worker, WorkerLimits


def main(url: str, started: Path) -> None:
    def forever(_payload: dict[str, Any]) -> None:
        started.write_text(worker.name)
        time.sleep(3600)

    limits = WorkerLimits(poll_s=0.05, heartbeat_s=0.1, stale_after_s=60)
    worker = Worker(Database(url), {"work": forever}, limits)
    worker.run_forever()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
