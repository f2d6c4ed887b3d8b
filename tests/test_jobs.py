"""Jobs run once their transaction commits: in process by default, in rq workers with Redis."""

import pytest
from rq import SimpleWorker
from sqlalchemy import select

from core import create_app
from core.audit.models import AuditEvent
from core.audit.operations import record_event
from core.extensions import db
from core.jobs import FAILED_JOB_TTL, enqueue_after_commit
from core.tenancy.scoping import current_tenant_id, tenant_scope


def note_job_ran(label: str) -> None:
    """A job with a visible, durable effect: an audit event in the tenant in scope."""
    record_event(current_tenant_id(), actor="system", action="job.ran", target=("job", label))


def ran(tenant) -> list[str]:
    with tenant_scope(tenant):
        return list(
            db.session.scalars(select(AuditEvent.target_id).where(AuditEvent.action == "job.ran"))
        )


def test_in_process_job_runs_after_commit_in_its_tenant(app, make_tenant):
    tenant = make_tenant("alpha")
    with tenant_scope(tenant):
        enqueue_after_commit(note_job_ran, "hello", tenant_id=tenant.id)
        assert ran(tenant) == []
        db.session.commit()
    assert ran(tenant) == ["hello"]


def test_rolled_back_work_enqueues_nothing(app, make_tenant):
    tenant = make_tenant("alpha")
    with tenant_scope(tenant):
        enqueue_after_commit(note_job_ran, "never", tenant_id=tenant.id)
        db.session.rollback()
        db.session.commit()
    assert ran(tenant) == []


@pytest.mark.redis
def test_with_redis_the_job_waits_in_the_queue_for_a_worker(redis_app, make_tenant):
    _, queue = redis_app
    tenant = make_tenant("alpha")
    with tenant_scope(tenant):
        enqueue_after_commit(note_job_ran, "queued", tenant_id=tenant.id)
        db.session.commit()
    assert queue.count == 1
    (job,) = queue.jobs
    # a failed job's traceback is kept a week, not rq's default year
    assert (job.result_ttl, job.failure_ttl) == (0, FAILED_JOB_TTL)
    assert ran(tenant) == []
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    assert queue.count == 0
    assert ran(tenant) == ["queued"]


@pytest.mark.redis
def test_the_worker_command_runs_jobs_in_forked_work_horses(redis_app, make_tenant):
    app, _ = redis_app
    tenant = make_tenant("alpha")
    with tenant_scope(tenant):
        for label in ("one", "two"):
            enqueue_after_commit(note_job_ran, label, tenant_id=tenant.id)
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    assert sorted(ran(tenant)) == ["one", "two"]


def failing_job() -> None:
    raise RuntimeError("the job broke")


def test_a_failing_in_process_job_does_not_undo_or_fail_the_commit(app, make_tenant, caplog):
    tenant = make_tenant("alpha")
    with tenant_scope(tenant):
        record_event(tenant.id, actor="system", action="kept", target=("t", "1"))
        enqueue_after_commit(failing_job, tenant_id=tenant.id)
        db.session.commit()
        kept = db.session.scalars(select(AuditEvent.action).where(AuditEvent.action == "kept"))
        assert list(kept) == ["kept"]
    assert "job test_jobs:failing_job failed" in caplog.text


def test_a_commit_survives_redis_being_unreachable(app, config, make_tenant, tmp_path, caplog):
    unreachable = create_app(
        {**config, "REDIS_URL": "redis://127.0.0.1:1/0"}, instance_path=str(tmp_path / "u")
    )
    tenant = make_tenant("alpha")
    with unreachable.app_context(), tenant_scope(tenant):
        record_event(tenant.id, actor="system", action="kept", target=("t", "1"))
        enqueue_after_commit(note_job_ran, "lost?", tenant_id=tenant.id)
        db.session.commit()
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "kept"))
        db.session.remove()
    assert "could not queue job test_jobs:note_job_ran" in caplog.text


def test_a_rolled_back_savepoint_keeps_the_transactions_jobs(app, make_tenant):
    tenant = make_tenant("alpha")
    with tenant_scope(tenant):
        enqueue_after_commit(note_job_ran, "outer", tenant_id=tenant.id)
        db.session.begin_nested().rollback()
        db.session.commit()
    assert ran(tenant) == ["outer"]
