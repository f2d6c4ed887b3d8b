"""Liveness and readiness, as an orchestrator probes them."""

import pytest

from core import create_app
from core.testing import KIT_CONFIG
from tests.conftest import _free_port


def test_liveness_and_readiness_answer_without_a_cookie(client):
    for path in ("/livez", "/healthz"):
        alive = client.get(path)
        assert alive.status_code == 200 and alive.json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json == {"status": "ready", "checks": {"database": "ok"}}
    assert "Set-Cookie" not in ready.headers
    assert ready.headers["Cache-Control"] == "no-store"


def test_readiness_checks_redis_when_jobs_go_through_it(redis_app):
    with_redis, _queue = redis_app
    ready = with_redis.test_client().get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"database": "ok", "redis": "ok"}


def test_readiness_fails_and_names_redis_when_it_does_not_answer(config, tmp_path):
    unreachable = f"redis://127.0.0.1:{_free_port()}/0"
    app = create_app({**config, "REDIS_URL": unreachable}, instance_path=str(tmp_path / "i"))
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.json == {"status": "not ready", "checks": {"database": "ok", "redis": "failing"}}
    assert str(_port_of(unreachable)) not in ready.get_data(as_text=True)


@pytest.mark.parametrize("host", ["localhost", "portal.school.example"])
def test_readiness_fails_when_the_database_does_not_answer_while_liveness_holds(tmp_path, host):
    missing = f"sqlite:///{tmp_path / 'no-such-folder' / 'cellule.db'}"
    app = create_app(
        {**KIT_CONFIG, "SQLALCHEMY_DATABASE_URI": missing, "DATABASE_MIGRATION_URL": missing},
        instance_path=str(tmp_path / "i"),
    )
    client = app.test_client()
    ready = client.get("/readyz", headers={"Host": host})
    assert ready.status_code == 503
    assert ready.json["checks"] == {"database": "failing"}
    assert "no-such-folder" not in ready.get_data(as_text=True)
    assert client.get("/livez", headers={"Host": host}).status_code == 200


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/")[0])
