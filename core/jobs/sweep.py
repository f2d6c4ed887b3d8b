"""The periodic sweep: every idempotent worker over the database's rows, run once.

Jobs queued after a commit do the work at once; the sweep is what makes losing one harmless.
It queues again the e-mails still waiting (each on its retry schedule), sends the deadline
reminders and alerts that are due, and carries out the procedure's notices a job missed.
Each part claims its rows one by one, so any number of sweeps may overlap, and one killed
half-way leaves nothing half-done. `cellule jobs sweep` runs it once; `cellule jobs
scheduler` (and, in the embedded default, `cellule run`) runs it every CELLULE_SWEEP_SECONDS.
"""

import logging
from datetime import datetime

from core.cases.reminders import sweep_deadlines
from core.extensions import db
from core.mail.operations import sweep_case_notices, sweep_pending_mail
from core.tenancy.scoping import platform_scope
from core.types import utcnow

logger = logging.getLogger(__name__)

# How a job names it (`core.jobs.run_job`).
SWEEP_JOB = "core.jobs.sweep:sweep_everything"


def sweep_everything(now: datetime | None = None) -> dict[str, int]:
    """Run every sweep once as of `now` (default: the current time); counts of what each did.

    Commits as it goes (each claimed row on its own); call it outside any transaction.
    """
    now = now or utcnow()
    with platform_scope():
        mail = sweep_pending_mail(due_by=now)
        db.session.commit()
    deadlines = sweep_deadlines(now)
    notices = sweep_case_notices()
    counts = {
        "mail": mail,
        "reminders": deadlines.reminded,
        "alerts": deadlines.alerted,
        "notices": notices,
        "failed": len(deadlines.failed),
    }
    # counts only: nothing here names a person, a case or an address
    logger.info("sweep: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return counts
