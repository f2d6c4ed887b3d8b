"""The Kubernetes chart (helm/cellule), linted and installed by Helm's own library.

helm-sdkpy bundles the Helm library but offers no client-only rendering: its Install talks
to an API server. So each install goes, with Helm's in-memory release storage, to a small
API server on 127.0.0.1 that answers what Helm asks (discovery, create, get, list, patch,
delete) and records it, every Job it receives having already succeeded. The tests read what
Helm rendered (the release's manifest and hooks) and the order in which Helm applied it;
the manifests are also checked against the Kubernetes JSON schemas (kubernetes-validate,
strict). No cluster, no network.
"""

import copy
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from core.config import SETTINGS
from tests.conftest import IN_CI

CHART = Path(__file__).resolve().parent.parent / "helm" / "cellule"
# The oldest Kubernetes the chart supports (Chart.yaml's kubeVersion): the fake API server
# says it runs it, and the manifests are validated against its schemas.
KUBERNETES_VERSION = "1.30"
NAMESPACE = "cellule"
# The containers' only writable place (a path inside the pods, not on this machine).
POD_TMP = "/tmp"  # noqa: S108
RELEASE = "cellule"

if importlib.util.find_spec("helm_sdkpy") is None:
    message = "helm-sdkpy is not installed (the Makefile's install step adds it)"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message, allow_module_level=True)

MASTER_KEY = "test-master-key"
FULL = {
    "secrets": {"secretKey": "signing-secret", "masterKey": MASTER_KEY},
    "postgresql": {
        "url": "postgresql://cellule:app@db.internal/cellule",
        "migrationUrl": "postgresql://cellule_owner:owner@db.internal/cellule",
    },
    "redis": {"url": "redis://redis.internal:6380/0"},
    "mail": {"server": "smtp.internal", "port": 2525, "username": "cellule", "password": "pw"},
    "metrics": {"token": "scrape-token"},
    "config": {
        "baseDomain": "cellule.example.org",
        "publicUrl": "https://cellule.example.org",
    },
    "ingress": {
        "hosts": ["signalement.neoma.fr", "signalement.ciup.fr"],
        "tls": [{"secretName": "cellule-tls"}],
    },
    "networkPolicy": {
        "egress": {
            "postgresql": {"port": 6432, "cidrs": ["10.20.0.5/32"]},
            "redis": {"port": 6380, "cidrs": ["10.20.0.6/32"]},
        }
    },
}
EXISTING = {
    "secrets": {"existingSecret": "ops-cellule-keys"},
    "postgresql": {
        "existingSecret": "ops-cellule-db",
        "existingSecretKeys": {"url": "app-url", "migrationUrl": "owner-url"},
    },
    "redis": {"existingSecret": "ops-cellule-redis", "existingSecretKey": "url"},
    "mail": {"existingSecret": "ops-cellule-mail"},
    "metrics": {"existingSecret": "ops-cellule-metrics"},
    "ingress": {"hosts": ["cellule.example.org"]},
}
FIXED_SIZE = {**FULL, "web": {"autoscaling": {"enabled": False}, "replicas": 3}}
OTHER_LOCALE = {**FULL, "config": {**FULL["config"], "defaultLocale": "en"}}
OTHER_REDIS = {**FULL, "redis": {"url": "redis://redis.internal:6380/1"}}

# What Helm may ask the API server about: the kinds of the chart.
API_RESOURCES = {
    "v1": [
        ("secrets", "Secret"),
        ("configmaps", "ConfigMap"),
        ("services", "Service"),
        ("serviceaccounts", "ServiceAccount"),
        ("pods", "Pod"),
    ],
    "apps/v1": [("deployments", "Deployment")],
    "batch/v1": [("jobs", "Job")],
    "autoscaling/v2": [("horizontalpodautoscalers", "HorizontalPodAutoscaler")],
    "networking.k8s.io/v1": [("ingresses", "Ingress"), ("networkpolicies", "NetworkPolicy")],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget")],
}


def _api_path(group_version: str) -> str:
    return "api/v1" if group_version == "v1" else f"apis/{group_version}"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], ConnectionError):  # Helm drops its watches
            super().handle_error(request, client_address)


class RecordingApiServer:
    """A Kubernetes API server on 127.0.0.1, just enough for `helm install` and `upgrade`.

    It stores what is created, answers gets and lists from that store, and records each
    create, update and delete in order. Field validation is left to the "server" (its OpenAPI says
    it supports it) and done by nothing: the schemas are checked by kubernetes-validate.
    """

    def __init__(self):
        self.objects: dict[str, dict] = {}
        self.applied: list[tuple[str, str, str]] = []
        self._versions = itertools.count(1)
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: without this, each answer waits for a
            # delayed ACK (some 40 ms).
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.answer(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

        self._http = _QuietServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    @property
    def kubeconfig(self) -> str:
        port = self._http.server_address[1]
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                "users": [{"name": "t", "user": {"token": "t"}}],
                "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
                "current-context": "t",
            }
        )

    def reset(self):
        with self._lock:
            self.objects.clear()
            self.applied.clear()

    def close(self):
        self._http.shutdown()
        self._http.server_close()

    def answer(self, request):
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length else b""
        path, _, query = request.path.partition("?")
        with self._lock:
            status, answer = self._route(request.command, path, query, body)
        data = json.dumps(answer).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _route(self, verb, path, query, body):
        major, minor = KUBERNETES_VERSION.split(".")
        if path == "/version":
            return 200, {"major": major, "minor": minor, "gitVersion": f"v{major}.{minor}.0"}
        if path == "/api":
            return 200, {"kind": "APIVersions", "versions": ["v1"]}
        if path == "/apis":
            return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": self._groups()}
        if path == "/openapi/v3":
            return 200, {
                "paths": {
                    _api_path(gv): {"serverRelativeURL": f"/openapi/v3/{_api_path(gv)}?hash=0"}
                    for gv in API_RESOURCES
                }
            }
        if path.startswith("/openapi/v3/"):
            return 200, self._openapi(path.removeprefix("/openapi/v3/").split("/", 1)[1])
        for group_version in API_RESOURCES:
            if path == "/" + _api_path(group_version):
                return 200, self._resource_list(group_version)
        match = re.fullmatch(
            r"/(api/v1|apis/[^/]+/[^/]+)/namespaces/[^/]+/([^/]+)(?:/([^/]+))?", path
        )
        if match is None:
            return self._not_found()
        collection = path if match[3] is None else path.rsplit("/", 1)[0]
        if verb == "POST":
            return self._create(collection, json.loads(body))
        if verb == "GET" and match[3] is None:
            if "watch=true" in query:
                # Helm falls back to list-then-watch; its watch may end at once.
                return (404, self._not_found()[1]) if "sendInitialEvents" in query else (200, {})
            return 200, self._list(collection, match[2])
        if verb == "GET":
            return (200, self.objects[path]) if path in self.objects else self._not_found()
        if verb in ("PATCH", "PUT") and path in self.objects:
            changed = self.objects[path]
            self.applied.append(("update", changed["kind"], changed["metadata"]["name"]))
            return 200, changed
        if verb == "DELETE" and path in self.objects:
            gone = self.objects.pop(path)
            self.applied.append(("delete", gone["kind"], gone["metadata"]["name"]))
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        return self._not_found()

    def _groups(self):
        groups = {}
        for group_version in API_RESOURCES:
            if "/" in group_version:
                group, version = group_version.split("/")
                groups.setdefault(group, []).append(
                    {"groupVersion": group_version, "version": version}
                )
        return [{"name": g, "versions": v, "preferredVersion": v[0]} for g, v in groups.items()]

    def _resource_list(self, group_version):
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": [
                {
                    "name": plural,
                    "singularName": kind.lower(),
                    "namespaced": True,
                    "kind": kind,
                    "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
                }
                for plural, kind in API_RESOURCES[group_version]
            ],
        }

    def _openapi(self, group_version):
        """Enough OpenAPI for Helm's client to leave field validation to the server."""
        group, _, version = group_version.rpartition("/")
        return {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": KUBERNETES_VERSION},
            "paths": {
                f"/{_api_path(group_version)}/namespaces/{{namespace}}/{plural}/{{name}}": {
                    "patch": {
                        "x-kubernetes-group-version-kind": {
                            "group": group,
                            "version": version,
                            "kind": kind,
                        },
                        "parameters": [
                            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
                        ],
                        "responses": {},
                    }
                }
                for plural, kind in API_RESOURCES[group_version]
            },
        }

    def _create(self, collection, obj):
        version = str(next(self._versions))
        obj["metadata"].update(uid=f"uid-{version}", resourceVersion=version)
        if obj["kind"] == "Job":
            obj["status"] = {
                "succeeded": 1,
                "conditions": [{"type": "Complete", "status": "True"}],
            }
        self.objects[f"{collection}/{obj['metadata']['name']}"] = obj
        self.applied.append(("create", obj["kind"], obj["metadata"]["name"]))
        return 201, obj

    def _list(self, collection, plural):
        kind = next(k for kinds in API_RESOURCES.values() for p, k in kinds if p == plural)
        items = [o for path, o in self.objects.items() if path.rsplit("/", 1)[0] == collection]
        version = str(next(self._versions))
        return {
            "kind": f"{kind}List",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": version},
            "items": items,
        }

    @staticmethod
    def _not_found():
        return 404, {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "NotFound",
            "code": 404,
        }


# helm-sdkpy's Go runtime reads the environment once, when it loads: HELM_DRIVER=memory must
# be there from the process's start, hence a child process per call (which also keeps the
# Go runtime out of pytest's).
HELM_CALL = """
import asyncio, json, sys
import helm_sdkpy

request = json.loads(sys.stdin.read())
config = helm_sdkpy.Configuration(namespace=request["namespace"], kubeconfig=request["kubeconfig"])
try:
    if request["action"] == "lint":
        result = asyncio.run(helm_sdkpy.Lint(config).run(request["chart"]))
    else:
        result = asyncio.run(
            helm_sdkpy.Install(config).run(
                request["release"], request["chart"], values=request["values"],
                wait=False, timeout=60,
            )
        )
    if request.get("upgrade_values") is not None:
        result = asyncio.run(
            helm_sdkpy.Upgrade(config).run(
                request["release"], request["chart"], values=request["upgrade_values"],
                wait=False, timeout=60,
            )
        )
    answer = {"result": result}
except helm_sdkpy.HelmError as exc:
    answer = {"error": str(exc)}
with open(request["answer"], "w") as handle:
    json.dump(answer, handle)
"""


def helm(action: str, home: Path, *, chart: Path = CHART, **request) -> dict:
    """Run one helm-sdkpy action in a child process: {"result": …} or {"error": message}."""
    home.mkdir(parents=True, exist_ok=True)
    answer = home / "answer.json"
    answer.unlink(missing_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "HELM_DRIVER": "memory",
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    request = {
        "action": action,
        "chart": str(chart),
        "namespace": NAMESPACE,
        "kubeconfig": None,
        "answer": str(answer),
        **request,
    }
    done = subprocess.run(
        [sys.executable, "-c", HELM_CALL],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0 and answer.exists(), done.stderr[-3000:]
    return json.loads(answer.read_text())


@dataclass
class Release:
    """What `helm install` made of one set of values."""

    resources: list[dict]
    hooks: list[dict]
    notes: str
    applied: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def objects(self) -> list[dict]:
        return self.resources + self.hooks

    def named(self, kind: str, name: str) -> dict:
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name]
        assert len(found) == 1, f"{kind}/{name} not rendered exactly once"
        return found[0]

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    @property
    def workloads(self) -> list[dict]:
        return self.of_kind("Deployment") + self.of_kind("Job")

    @property
    def job(self) -> dict:
        return self.named("Job", f"{RELEASE}-migrations")

    def deployment(self, component: str) -> dict:
        return self.named("Deployment", f"{RELEASE}-{component}")


class Installer:
    """Installs the chart against the recording API server, once per set of values."""

    def __init__(self, server: RecordingApiServer, home: Path):
        self.server = server
        self.home = home
        self._cache: dict[str, Release | str] = {}

    def attempt(self, values: dict, upgrade_to: dict | None = None) -> Release | str:
        """Install `values` (then upgrade to `upgrade_to`), once per set of values.

        A failure comes back as Helm's message.
        """
        key = json.dumps([values, upgrade_to], sort_keys=True)
        if key not in self._cache:
            self.server.reset()
            answer = helm(
                "install",
                self.home,
                release=RELEASE,
                values=copy.deepcopy(values),
                upgrade_values=copy.deepcopy(upgrade_to),
                kubeconfig=self.server.kubeconfig,
            )
            if "error" in answer:
                self._cache[key] = answer["error"]
            else:
                release = answer["result"]
                self._cache[key] = Release(
                    resources=[o for o in yaml.safe_load_all(release["manifest"]) if o],
                    hooks=[yaml.safe_load(h["manifest"]) for h in release.get("hooks") or []],
                    notes=release["info"].get("notes", ""),
                    applied=list(self.server.applied),
                )
        return self._cache[key]

    def install(self, values: dict, upgrade_to: dict | None = None) -> Release:
        release = self.attempt(values, upgrade_to)
        assert isinstance(release, Release), release
        return release


@pytest.fixture(scope="module")
def installer(tmp_path_factory):
    server = RecordingApiServer()
    yield Installer(server, tmp_path_factory.mktemp("helm-home"))
    server.close()


@pytest.fixture(scope="module")
def full(installer) -> Release:
    return installer.install(FULL)


@pytest.fixture(scope="module")
def existing(installer) -> Release:
    return installer.install(EXISTING)


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def env_of(container: dict) -> dict[str, dict]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def without(values: dict, section: str, key: str) -> dict:
    trimmed = copy.deepcopy(values)
    del trimmed[section][key]
    return trimmed


# --- Helm's own checks ---------------------------------------------------------------------


def test_the_chart_passes_helm_lint(tmp_path):
    lint = helm("lint", tmp_path)["result"]
    assert lint["TotalChartsLinted"] == 1
    assert not lint["Errors"]
    # Severities: 1 information, 2 warning, 3 error.
    assert [m for m in lint["Messages"] if m["Severity"] >= 2] == []


def test_helm_lint_rejects_values_the_schema_refuses(tmp_path):
    broken = tmp_path / "cellule"
    shutil.copytree(CHART, broken)
    values = broken / "values.yaml"
    values.write_text(values.read_text().replace("minReplicas: 2", 'minReplicas: "two"', 1))
    assert 'minReplicas: "two"' in values.read_text()
    lint = helm("lint", tmp_path / "home", chart=broken)["result"]
    assert lint["Errors"]
    assert any(m["Severity"] == 3 and m["Path"] == "values.yaml" for m in lint["Messages"])


@pytest.mark.parametrize(
    ("section", "key", "variable"),
    [
        ("secrets", "secretKey", "SECRET_KEY"),
        ("secrets", "masterKey", "CELLULE_MASTER_KEY"),
        ("postgresql", "url", "DATABASE_URL"),
        ("postgresql", "migrationUrl", "DATABASE_MIGRATION_URL"),
        ("redis", "url", "REDIS_URL"),
    ],
)
def test_installing_without_a_required_secret_fails_and_says_which(
    installer, section, key, variable
):
    failure = installer.attempt(without(FULL, section, key))
    assert isinstance(failure, str), f"installed without {section}.{key}"
    assert f"{section}.{key} or {section}.existingSecret is required: {variable}" in failure


@pytest.mark.parametrize(
    ("wrong", "named"),
    [
        ({"web": {"autoscaling": {"maxReplicas": 0}}}, "maxReplicas"),
        ({"secret": {"masterKey": MASTER_KEY}}, "secret"),  # misspelt: secrets
        ({"config": {"logFormat": "xml"}}, "logFormat"),
    ],
    ids=["range", "misspelt", "enum"],
)
def test_values_the_schema_refuses_are_refused_at_install(installer, wrong, named):
    failure = installer.attempt({**FULL, **wrong})
    assert isinstance(failure, str) and "schema" in failure and named in failure


@pytest.mark.parametrize("values", [FULL, EXISTING, FIXED_SIZE], ids=["full", "existing", "fixed"])
def test_every_manifest_is_valid_for_kubernetes(installer, values):
    release = installer.install(values)
    assert {o["kind"] for o in release.objects} >= {"Deployment", "Job", "Service", "Ingress"}
    for obj in release.objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


# --- Secrets -------------------------------------------------------------------------------


def test_the_master_key_secret_survives_helm_uninstall(full):
    secret = full.named("Secret", f"{RELEASE}-master-key")
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    assert secret in full.resources  # an ordinary resource of the release, not a hook
    assert set(secret["data"]) == {"CELLULE_MASTER_KEY"}


def test_existing_secrets_make_no_secret_and_pods_read_them(existing):
    assert existing.of_kind("Secret") == []
    wanted = {
        "SECRET_KEY": ("ops-cellule-keys", "SECRET_KEY"),
        "CELLULE_MASTER_KEY": ("ops-cellule-keys", "CELLULE_MASTER_KEY"),
        "DATABASE_URL": ("ops-cellule-db", "app-url"),
        "REDIS_URL": ("ops-cellule-redis", "url"),
    }
    for workload in existing.of_kind("Deployment"):
        env = env_of(pod_spec(workload)["containers"][0])
        for variable, (secret, key) in wanted.items():
            assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": secret, "key": key}
        previous = env["CELLULE_PREVIOUS_MASTER_KEYS"]["valueFrom"]["secretKeyRef"]
        assert previous["name"] == "ops-cellule-keys" and previous["optional"] is True
    job_env = env_of(pod_spec(existing.job)["containers"][0])
    assert job_env["DATABASE_MIGRATION_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "ops-cellule-db",
        "key": "owner-url",
    }
    web_env = env_of(pod_spec(existing.deployment("web"))["containers"][0])
    assert web_env["CELLULE_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == (
        "ops-cellule-metrics"
    )
    worker_env = env_of(pod_spec(existing.deployment("worker"))["containers"][0])
    assert worker_env["MAIL_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "ops-cellule-mail"


def test_each_secret_goes_only_to_the_processes_that_use_it(full):
    seen = {
        workload["metadata"]["name"].removeprefix(f"{RELEASE}-"): set(
            env_of(pod_spec(workload)["containers"][0])
        )
        for workload in full.workloads
    }
    assert [name for name, env in seen.items() if "DATABASE_MIGRATION_URL" in env] == ["migrations"]
    assert [name for name, env in seen.items() if "MAIL_PASSWORD" in env] == ["worker"]
    assert [name for name, env in seen.items() if "CELLULE_METRICS_TOKEN" in env] == ["web"]
    for env in seen.values():
        assert {"SECRET_KEY", "CELLULE_MASTER_KEY", "DATABASE_URL"} <= env
    app_secret = full.named("Secret", RELEASE)
    assert "DATABASE_MIGRATION_URL" not in app_secret["data"]


def test_every_variable_the_chart_sets_is_a_cellule_setting(full, existing):
    known = {name for name, _default, _purpose in SETTINGS} | {"PROMETHEUS_MULTIPROC_DIR"}
    for release in (full, existing):
        set_by_chart = set(release.named("ConfigMap", RELEASE)["data"])
        for workload in release.workloads:
            for container in pod_spec(workload)["containers"]:
                set_by_chart |= set(env_of(container))
        assert set_by_chart - known == set()


def test_plain_settings_reach_every_process_from_the_values(full):
    settings = full.named("ConfigMap", RELEASE)["data"]
    assert settings["CELLULE_TRUSTED_PROXIES"] == "1"
    assert settings["CELLULE_LOG_FORMAT"] == "json"
    assert settings["CELLULE_BASE_DOMAIN"] == "cellule.example.org"
    assert settings["MAIL_PORT"] == "2525"
    for component in ("web", "worker", "scheduler"):
        container = pod_spec(full.deployment(component))["containers"][0]
        assert container["envFrom"] == [{"configMapRef": {"name": RELEASE}}]
    # The Job runs before the ConfigMap exists: it carries the same settings itself.
    job_env = env_of(pod_spec(full.job)["containers"][0])
    assert {name: job_env[name]["value"] for name in settings} == settings
    web_env = env_of(pod_spec(full.deployment("web"))["containers"][0])
    assert web_env["PROMETHEUS_MULTIPROC_DIR"]["value"] == f"{POD_TMP}/metrics"


def test_pods_roll_when_settings_or_secrets_change(installer, full):
    def checksums(release):
        template = release.deployment("web")["spec"]["template"]["metadata"]["annotations"]
        return template["checksum/config"], template["checksum/secret"]

    config, secret = checksums(full)
    other_locale = checksums(installer.install(OTHER_LOCALE))
    other_redis = checksums(installer.install(OTHER_REDIS))
    assert other_locale[0] != config and other_locale[1] == secret
    assert other_redis[0] == config and other_redis[1] != secret


# --- The migration Job ---------------------------------------------------------------------


def test_the_migration_job_is_a_pre_install_and_pre_upgrade_hook(full):
    job = full.job
    annotations = job["metadata"]["annotations"]
    assert set(annotations["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation",
        "hook-succeeded",
    }
    assert job in full.hooks and job not in full.resources
    assert job["spec"]["backoffLimit"] <= 2
    assert job["spec"]["activeDeadlineSeconds"] > 0
    container = pod_spec(job)["containers"][0]
    assert container["command"] == ["cellule", "db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] == "Never"


def test_on_install_the_migration_job_reads_only_what_already_exists(full):
    """Hooks run before the release's resources: whatever the Job reads is a hook made first."""
    job = full.job
    weight = int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    spec = pod_spec(job)
    needed = {("ServiceAccount", spec["serviceAccountName"])}
    for entry in spec["containers"][0]["env"]:
        if "valueFrom" in entry:
            needed.add(("Secret", entry["valueFrom"]["secretKeyRef"]["name"]))
    assert "envFrom" not in spec["containers"][0]
    for kind, name in needed:
        made = full.named(kind, name)
        assert made in full.hooks, f"the Job reads {kind}/{name}, which is not a hook"
        annotations = made["metadata"]["annotations"]
        assert "pre-install" in annotations["helm.sh/hook"].split(",")
        assert int(annotations["helm.sh/hook-weight"]) < weight
        assert "hook-succeeded" in annotations["helm.sh/hook-delete-policy"]
    # And Helm did apply them in that order, the Job before any Deployment.
    order = [(kind, name) for verb, kind, name in full.applied if verb == "create"]
    job_at = order.index(("Job", job["metadata"]["name"]))
    assert all(order.index(need) < job_at for need in needed)
    assert all(
        order.index(("Deployment", d["metadata"]["name"])) > job_at
        for d in full.of_kind("Deployment")
    )
    # Once it succeeded, the owner's connection is gone from the cluster.
    deleted = {(kind, name) for verb, kind, name in full.applied if verb == "delete"}
    assert ("Secret", f"{RELEASE}-migrations") in deleted


def test_every_upgrade_migrates_before_the_pods_change(installer):
    upgrade = installer.install(FULL, upgrade_to=OTHER_LOCALE)
    installed = upgrade.applied.index(("create", "Ingress", RELEASE))
    after = upgrade.applied[installed + 1 :]
    job = ("create", "Job", f"{RELEASE}-migrations")
    assert after[: after.index(job) + 1] == [
        ("create", "ServiceAccount", f"{RELEASE}-migrations"),
        ("create", "Secret", f"{RELEASE}-migrations"),
        job,
    ]
    changed = [(kind, name) for verb, kind, name in after if verb == "update"]
    assert ("ConfigMap", RELEASE) in changed
    assert ("Deployment", f"{RELEASE}-web") in changed
    assert all(after.index(("update", *c)) > after.index(job) for c in changed)
    # The master key Secret is left alone: never deleted, never made again.
    assert [e for e in upgrade.applied if e[2] == f"{RELEASE}-master-key"] == [
        ("create", "Secret", f"{RELEASE}-master-key")
    ]


# --- The workloads -------------------------------------------------------------------------


@pytest.mark.parametrize("values", [FULL, EXISTING], ids=["full", "existing"])
def test_every_container_is_locked_down(installer, values):
    release = installer.install(values)
    for workload in release.workloads:
        spec = pod_spec(workload)
        assert spec["automountServiceAccountToken"] is False
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001
        assert spec["securityContext"]["runAsGroup"] == 10001
        assert spec["securityContext"]["fsGroup"] == 10001
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert "add" not in context["capabilities"]
            # /tmp, an emptyDir of bounded size, is the only writable place.
            mounts = container["volumeMounts"]
            assert [m["mountPath"] for m in mounts] == [POD_TMP]
            tmp = volumes[mounts[0]["name"]]
            assert tmp["emptyDir"]["sizeLimit"]
            assert "resources" in container and container["resources"]["requests"]["cpu"]
    for account in release.of_kind("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


def test_each_process_runs_its_command(full):
    commands = {
        component: pod_spec(full.deployment(component))["containers"][0]["command"]
        for component in ("web", "worker", "scheduler")
    }
    assert commands == {
        "web": ["gunicorn", "--config", "python:core.gunicorn_conf"],
        "worker": ["cellule", "worker"],
        "scheduler": ["cellule", "jobs", "scheduler"],
    }


def test_there_is_exactly_one_scheduler_replaced_by_recreate(installer, full):
    for release in (full, installer.install(FIXED_SIZE)):
        scheduler = release.deployment("scheduler")
        assert scheduler["spec"]["replicas"] == 1
        assert scheduler["spec"]["strategy"] == {"type": "Recreate"}
        targets = [
            h["spec"]["scaleTargetRef"]["name"] for h in release.of_kind("HorizontalPodAutoscaler")
        ]
        assert scheduler["metadata"]["name"] not in targets
        budgets = [b["metadata"]["name"] for b in release.of_kind("PodDisruptionBudget")]
        assert budgets == [f"{RELEASE}-web", f"{RELEASE}-worker"]


def test_the_hpa_scales_the_web_deployment_on_cpu(full):
    web = full.deployment("web")
    assert "replicas" not in web["spec"]  # the HPA owns the count
    (hpa,) = full.of_kind("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": web["metadata"]["name"],
    }
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert pod_spec(web)["containers"][0]["resources"]["requests"]["cpu"]


def test_without_autoscaling_the_web_deployment_has_its_replicas(installer):
    release = installer.install(FIXED_SIZE)
    assert release.of_kind("HorizontalPodAutoscaler") == []
    assert release.deployment("web")["spec"]["replicas"] == 3
    assert release.deployment("worker")["spec"]["replicas"] == 2


def test_the_web_probes_hit_livez_and_readyz_on_gunicorns_port(full):
    container = pod_spec(full.deployment("web"))["containers"][0]
    port = container["ports"][0]
    assert port == {"name": "http", "containerPort": 8000, "protocol": "TCP"}
    assert env_of(container)["CELLULE_BIND"]["value"] == "0.0.0.0:8000"
    # /metrics has an address of its own, which the Service does not expose
    assert container["ports"][1] == {"name": "metrics", "containerPort": 9100, "protocol": "TCP"}
    assert env_of(container)["CELLULE_METRICS_BIND"]["value"] == "0.0.0.0:9100"
    (service,) = full.of_kind("Service")
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    # A stopping pod keeps answering a moment, and gunicorn then has its 30 s to finish.
    pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod_spec(full.deployment("web"))["terminationGracePeriodSeconds"] >= pause + 30
    probes = {
        kind: (container[kind]["httpGet"]["path"], container[kind]["httpGet"]["port"])
        for kind in ("livenessProbe", "readinessProbe", "startupProbe")
    }
    assert probes == {
        "livenessProbe": ("/livez", "http"),
        "readinessProbe": ("/readyz", "http"),
        "startupProbe": ("/livez", "http"),
    }
    service = full.named("Service", RELEASE)
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    labels = full.deployment("web")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()


# --- Traffic -------------------------------------------------------------------------------


def test_the_ingress_serves_every_tenant_host(full):
    ingress = full.named("Ingress", RELEASE)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert hosts == [
        "signalement.neoma.fr",
        "signalement.ciup.fr",
        "cellule.example.org",
        "*.cellule.example.org",
    ]
    for rule in ingress["spec"]["rules"]:
        (path,) = rule["http"]["paths"]
        assert path["backend"]["service"] == {"name": RELEASE, "port": {"name": "http"}}
    assert ingress["spec"]["tls"] == [{"secretName": "cellule-tls", "hosts": hosts}]


def test_the_network_policies_let_in_only_the_ingress_and_out_only_what_cellule_needs(full):
    policies = {
        p["metadata"]["name"].removeprefix(f"{RELEASE}-"): p["spec"]
        for p in full.of_kind("NetworkPolicy")
    }
    assert set(policies) == {"web", "worker", "scheduler", "migrations"}
    web_in = policies["web"]["ingress"]
    assert [rule["from"][0]["namespaceSelector"]["matchLabels"] for rule in web_in] == [
        {"kubernetes.io/metadata.name": "ingress-nginx"},
        {"kubernetes.io/metadata.name": "monitoring"},
    ]
    # the ingress controller reaches the pages' port, Prometheus the metrics' port only
    assert [rule["ports"] for rule in web_in] == [
        [{"port": 8000, "protocol": "TCP"}],
        [{"port": 9100, "protocol": "TCP"}],
    ]

    def egress(component):
        return {
            (port["port"], port["protocol"]): [
                peer.get("ipBlock", {}).get("cidr") for peer in rule.get("to", [])
            ]
            for rule in policies[component]["egress"]
            for port in rule["ports"]
        }

    database = {(6432, "TCP"): ["10.20.0.5/32"]}
    redis = {(6380, "TCP"): ["10.20.0.6/32"]}
    dns = {(53, "UDP"): [None], (53, "TCP"): [None]}
    assert egress("web") == egress("scheduler") == {**dns, **database, **redis}
    assert egress("worker") == {**dns, **database, **redis, (2525, "TCP"): []}
    assert egress("migrations") == {**dns, **database}
    for component in ("worker", "scheduler", "migrations"):
        assert policies[component]["ingress"] == []
        assert policies[component]["policyTypes"] == ["Ingress", "Egress"]


def test_an_ingress_without_any_host_is_refused(installer):
    failure = installer.attempt(
        {**FULL, "config": {}, "ingress": {"hosts": [], "wildcardHost": True}}
    )
    assert isinstance(failure, str)
    assert "ingress.hosts, config.publicUrl or config.baseDomain must name at least one host" in (
        failure
    )


def test_network_policies_can_be_turned_off(installer):
    release = installer.install({**FULL, "networkPolicy": {"enabled": False}})
    assert release.of_kind("NetworkPolicy") == []


def test_the_notes_say_how_to_create_the_first_tenant_and_admin(full):
    assert f"kubectl --namespace {NAMESPACE} exec deploy/{RELEASE}-web" in full.notes
    assert "cellule tenant create" in full.notes
    assert "cellule user create" in full.notes and "--role admin" in full.notes
