"""The Dockerfile agrees with the project: what it copies exists and is not ignored, every
catalogue is compiled, it runs as a non-root user on settings Cellule knows.

No Docker engine runs here, so the image itself is not built by the tests (the README says
how its steps were checked by hand); these catch the Dockerfile drifting from the code.
"""

import fnmatch
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser

from core import PROJECT_ROOT
from core.config import SETTINGS

WRITABLE = "/tmp"  # noqa: S108 (the image's one writable volume, an emptyDir on Kubernetes)


@pytest.fixture(scope="module")
def dockerfile() -> list[dict]:
    return DockerfileParser(str(PROJECT_ROOT / "Dockerfile")).structure


def stages(structure: list[dict]) -> list[list[dict]]:
    found = []
    for instruction in structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def env_of(stage: list[dict]) -> dict[str, str]:
    env = {}
    for instruction in stage:
        if instruction["instruction"] == "ENV":
            for pair in shlex.split(instruction["value"]):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def test_two_stages_and_the_last_runs_as_the_charts_numeric_non_root_user(dockerfile):
    build, runtime = stages(dockerfile)
    users = [i["value"] for i in runtime if i["instruction"] == "USER"]
    assert users, "the runtime stage sets a user"
    uid, _, gid = users[-1].partition(":")
    # numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0
    values = yaml.safe_load((PROJECT_ROOT / "helm" / "cellule" / "values.yaml").read_text())
    for context in (values["podSecurityContext"], values["securityContext"]):
        assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))
    # the code is copied as root's: the process can read it, never change it
    assert not any("--chown" in i["value"] for i in runtime if i["instruction"] == "COPY")
    assert any("pybabel compile" in i["value"] for i in build if i["instruction"] == "RUN")


def test_what_the_build_copies_exists_and_is_not_ignored(dockerfile):
    shipped = [
        str(path.relative_to(PROJECT_ROOT))
        for folder in ("core", "plugins", "migrations")
        for path in (PROJECT_ROOT / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".mo"
    ]
    ignored = [
        line.strip()
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for i in dockerfile
        if i["instruction"] == "COPY" and "--from=" not in i["value"]
        for source in shlex.split(i["value"])[:-1]
    ]
    assert {"pyproject.toml", "core", "plugins", "migrations"} <= set(copied)
    for source in copied:
        assert (PROJECT_ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source
    # nothing the image needs at run time is dropped on the way in
    for needed in shipped:
        assert not any(
            fnmatch.fnmatch(needed, pattern) or fnmatch.fnmatch(needed, pattern + "/*")
            for pattern in ignored
        ), needed


def compile_steps(dockerfile) -> str:
    """The Dockerfile's own commands that compile the catalogues (its RUN's `&&` parts that
    name them), as one shell script."""
    (step,) = [i["value"] for i in dockerfile if "pybabel compile" in i["value"]]
    return " && ".join(part for part in step.split(" && ") if "LC_MESSAGES" in part)


def run_compile(dockerfile, tree: Path) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.run(
        ["/bin/sh", "-c", compile_steps(dockerfile)], cwd=tree, env=environ, capture_output=True
    )


@pytest.fixture
def catalogues(tmp_path) -> Path:
    """A copy of the project's catalogues, laid out as in the build stage's /app."""
    for po in [*PROJECT_ROOT.glob("core/**/*.po"), *PROJECT_ROOT.glob("plugins/**/*.po")]:
        copy = tmp_path / po.relative_to(PROJECT_ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(po, copy)
    return tmp_path


def test_the_build_compiles_every_catalogue(dockerfile, catalogues):
    done = run_compile(dockerfile, catalogues)
    assert done.returncode == 0, done.stderr
    pos = sorted(catalogues.rglob("*.po"))
    assert len(pos) >= 4 and all("LC_MESSAGES" in po.parts for po in pos)
    assert all(po.with_suffix(".mo").stat().st_size > 0 for po in pos)


@pytest.mark.parametrize("damage", ["broken", "fuzzy"])
def test_the_build_fails_when_a_catalogue_does_not_compile(dockerfile, catalogues, damage):
    po = next(catalogues.rglob("core/**/*.po"))
    if damage == "broken":  # not UTF-8, as the catalogue says it is: pybabel fails
        po.write_bytes(po.read_bytes() + b'\nmsgid "x"\nmsgstr "\xff\xfe"\n')
    else:  # pybabel skips a catalogue marked fuzzy, and says nothing wrong
        po.write_text(po.read_text().replace('msgid ""\n', '#, fuzzy\nmsgid ""\n', 1))
    assert run_compile(dockerfile, catalogues).returncode != 0


def test_the_image_runs_gunicorn_on_settings_cellule_knows(dockerfile):
    runtime = stages(dockerfile)[-1]
    (command,) = [i["value"] for i in runtime if i["instruction"] == "CMD"]
    assert command == '["gunicorn", "--config", "python:core.gunicorn_conf"]'
    env = env_of(runtime)
    known = {name for name, _default, _what in SETTINGS}
    assert {name for name in env if name.startswith("CELLULE_")} <= known
    assert env["CELLULE_LOG_FORMAT"] == "json"
    port = env["CELLULE_BIND"].rsplit(":", 1)[1]
    assert [i["value"] for i in runtime if i["instruction"] == "EXPOSE"] == [port]
    # the one writable place holds everything written at run time
    for name in ("TMPDIR", "HOME", "CELLULE_INSTANCE_PATH", "PROMETHEUS_MULTIPROC_DIR"):
        assert env[name].startswith(WRITABLE), name
