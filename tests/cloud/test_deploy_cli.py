"""The deploy CLI (`python -m deploy`) driving a stand-in terraform (tests/support/terraform_standin) and applying
manifests to a stand-in Kubernetes API server on loopback: every refusal happens before anything changes, and an
apply runs init, terraform apply, then the overlay's objects through the API."""

from __future__ import annotations

import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.kustomize import render
from model_builder.images.local_registry import LoopbackRegistry
from model_builder.images.oci import LayoutStore, RunConfig, assemble, text_file
from model_builder.images.registry import RegistryClient
from tests.support.kube_api_standin import merge_patch
from tests.support.oci_registry import loopback_registry

ROOT = Path(__file__).resolve().parents[2]
STANDIN = ROOT / "tests" / "support" / "terraform_standin"
KIND_OVERLAY = ROOT / "knative" / "overlays" / "kind"
GKE_VARS = {"project_id": "mcc-test", "region": "europe-west1", "domain": "mcc.example.org",
            "master_authorized_networks": [{"cidr_block": "203.0.113.0/24", "display_name": "ops"}]}


@dataclass
class ApiStandin:
    """A stand-in for the Kubernetes API server: any collection path, objects kept in memory, a journal of calls."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    journal: list[tuple[str, str, str, Any, str]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def writes(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path, *_ in self.journal if method in ("POST", "PATCH", "PUT", "DELETE")]

    def answer(self, method: str, path: str, content_type: str, body: Any, auth: str) -> tuple[int, Any]:
        self.journal.append((method, path, content_type, body, auth))
        if path == "/version":
            return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.4-standin"}
        if method == "GET":
            found = self.objects.get(path)
            return (200, found) if found else (404, {"kind": "Status", "reason": "NotFound", "code": 404})
        if method == "POST":
            key = f"{path}/{body['metadata']['name']}"
            if key in self.objects:
                return 409, {"kind": "Status", "reason": "AlreadyExists", "code": 409}
            self.objects[key] = body
            return 201, body
        if method == "PATCH" and content_type == "application/merge-patch+json" and path in self.objects:
            self.objects[path] = merge_patch(self.objects[path], body)
            return 200, self.objects[path]
        return 405, {"kind": "Status", "reason": "MethodNotAllowed", "code": 405}


def serve(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def kube_api() -> Iterator[ApiStandin]:
    standin = ApiStandin()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = standin.answer(self.command, self.path, self.headers.get("Content-Type", ""), body,
                                            self.headers.get("Authorization", ""))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        def log_message(self, *args: Any) -> None:
            pass

    standin.server = serve(Handler)
    yield standin
    standin.server.shutdown()
    standin.server.server_close()


OVERLAY_IMAGES = ("functions", "orthanc", "portal")


@pytest.fixture(scope="module")
def real_registry() -> Iterator[LoopbackRegistry]:
    """Debian's docker-registry on loopback (a real OCI registry), for the whole module."""
    with loopback_registry() as running:
        yield running


@dataclass
class Registry:
    """The real registry as one test's env sees it: its own repository prefix (`host` = address/prefix, what the
    env's `image_registry` output would be), holding a tiny image for each of the kind overlay's images except
    `missing`."""

    address: str
    prefix: str

    @property
    def host(self) -> str:
        return f"{self.address}/{self.prefix}"

    def __str__(self) -> str:
        return self.host

    @classmethod
    def holding(cls, address: str, work: Path, missing: tuple[str, ...] = ()) -> Registry:
        registry = cls(address, f"t{uuid.uuid4().hex[:10]}")
        store = LayoutStore(work / registry.prefix)
        layer = store.layer("tiny", [text_file("tiny.txt", "a stand-in workload")])
        client = RegistryClient(address)
        for name in OVERLAY_IMAGES:
            if name not in missing:
                client.push(assemble(store, f"{registry.prefix}/mcc/{name}", "dev", [layer],
                                     RunConfig(user="65532:65532", entrypoint=["/tiny"])), store)
        return registry

    def without(self, name: str, work: Path) -> Registry:
        return Registry.holding(self.address, work, missing=(name,))


@pytest.fixture
def registry(real_registry: LoopbackRegistry, tmp_path: Path) -> Registry:
    return Registry.holding(real_registry.address, tmp_path / "images")


@pytest.fixture
def docker_socket() -> Iterator[str]:
    """DOCKER_HOST of a stand-in Docker daemon answering /_ping on a Unix socket (kind needs Docker)."""
    directory = tempfile.mkdtemp(prefix="dk", dir="/tmp")  # short: Unix socket paths are limited to 107 bytes
    path = os.path.join(directory, "docker.sock")

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK")

    server = socketserver.ThreadingUnixStreamServer(path, Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"unix://{path}"
    server.shutdown()
    server.server_close()
    shutil.rmtree(directory)


def closed_port() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return port


@dataclass
class Cli:
    """Runs `python -m deploy` with the stand-in terraform first on PATH; reads what the stand-in recorded."""

    tmp: Path
    env: dict[str, str]

    def run(self, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, PATH=path if path is not None else self.env["PATH"])
        return subprocess.run([sys.executable, "-m", "deploy", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    def calls(self) -> list[dict[str, Any]]:
        log = Path(self.env["TF_STANDIN_LOG"])
        return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []

    def commands(self) -> list[str]:
        return [call["args"][0] for call in self.calls()]

    def set_outputs(self, outputs: dict[str, Any]) -> None:
        Path(self.env["TF_STANDIN_OUTPUTS"]).write_text(json.dumps(outputs))

    def set_state(self, outputs: dict[str, Any]) -> None:
        Path(self.env["TF_STANDIN_STATE"]).write_text(json.dumps(outputs))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)  # the stand-in's interpreter; nothing else on PATH
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "KUBECONFIG", "DOCKER_HOST"))}
    env |= {"PATH": f"{STANDIN}:{bin_dir}", "TF_STANDIN_LOG": str(tmp_path / "calls.jsonl"),
            "TF_STANDIN_STATE": str(tmp_path / "state.json"), "TF_STANDIN_OUTPUTS": str(tmp_path / "outputs.json"),
            "DOCKER_HOST": "unix:///nonexistent/docker.sock", "HOME": str(tmp_path)}
    return Cli(tmp_path, env)


@pytest.fixture
def gke_var_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.tfvars.json"
    path.write_text(json.dumps(GKE_VARS))
    return path


def kubeconfig(tmp_path: Path, server: str, context: str = "kind-mcc") -> Path:
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "elsewhere",
        "clusters": [{"name": "standin", "cluster": {"server": server}},
                     {"name": "other", "cluster": {"server": "http://127.0.0.1:9"}}],
        "users": [{"name": "tester", "user": {"token": "standin-token"}}],
        "contexts": [{"name": context, "context": {"cluster": "standin", "user": "tester"}},
                     {"name": "elsewhere", "context": {"cluster": "other", "user": "tester"}}],
    }))
    return path


def kind_overlay(tmp_path: Path, registry: Registry) -> Path:
    """The real kind overlay, its images moved to the test's registry (as an operator's overlay on top would)."""
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    images = [{"name": f"localhost:5001/mcc/{name}", "newName": f"{registry}/mcc/{name}"}
              for name in ("functions", "orthanc", "portal")]
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
        "resources": [os.path.relpath(KIND_OVERLAY, overlay)], "images": images}))
    return overlay


def kind_outputs(tmp_path: Path, api: str, registry: Registry) -> dict[str, Any]:
    return {"env": "kind", "kubeconfig_path": str(kubeconfig(tmp_path, api)), "kubeconfig_context": "kind-mcc",
            "image_registry": registry, "namespace": "mcc"}


def collection(obj: dict[str, Any]) -> str:
    """Where the API server keeps `obj` (the paths kubectl uses)."""
    group = f"/api/{obj['apiVersion']}" if "/" not in obj["apiVersion"] else f"/apis/{obj['apiVersion']}"
    plural = {"NetworkPolicy": "networkpolicies"}.get(obj["kind"], obj["kind"].lower() + "s")
    if obj["kind"] == "Namespace":
        return f"{group}/{plural}/{obj['metadata']['name']}"
    return f"{group}/namespaces/{obj['metadata']['namespace']}/{plural}/{obj['metadata']['name']}"


def test_unknown_env_is_refused_before_terraform_runs(cli: Cli) -> None:
    done = cli.run("plan", "--env", "moon")
    assert done.returncode == 1
    assert "unknown environment 'moon': choose one of gke, kind" in done.stderr
    wrapper = subprocess.run([str(ROOT / "scripts" / "deploy"), "destroy", "--env", "moon"], capture_output=True,
                             env=dict(cli.env, PATH=f"{cli.env['PATH']}:/usr/bin:/bin"), text=True, timeout=60)
    assert wrapper.returncode == 1 and "unknown environment 'moon'" in wrapper.stderr
    assert cli.calls() == []


def test_missing_terraform_says_how_to_install_it(cli: Cli, gke_var_file: Path) -> None:
    done = cli.run("plan", "--env", "gke", "--var-file", str(gke_var_file), "--backend-config", "bucket=b",
                   path=str(cli.tmp / "bin"))
    assert done.returncode == 1
    assert "terraform (>= 1.6) was not found on PATH" in done.stderr
    assert "https://developer.hashicorp.com/terraform/install" in done.stderr
    assert cli.calls() == []


def test_missing_variables_are_named_with_their_description_and_nothing_runs(cli: Cli) -> None:
    done = cli.run("plan", "--env", "gke", "--var", "project_id=mcc-test", "--backend-config", "bucket=b")
    assert done.returncode == 1
    assert "missing variables for env gke" in done.stderr
    for name in ("region", "domain", "master_authorized_networks"):
        assert f"  {name}: " in done.stderr
    assert "  project_id" not in done.stderr
    assert cli.calls() == []


def test_variables_from_the_environment_count_as_given(cli: Cli) -> None:
    cli.env |= {f"TF_VAR_{k}": json.dumps(v) if not isinstance(v, str) else v for k, v in GKE_VARS.items()}
    done = cli.run("plan", "--env", "gke", "--backend-config", "bucket=b")
    assert done.returncode == 0, done.stderr
    assert cli.commands() == ["init", "plan"]


def test_an_undeclared_variable_is_refused(cli: Cli, gke_var_file: Path) -> None:
    done = cli.run("plan", "--env", "gke", "--var-file", str(gke_var_file), "--var", "projectid=x",
                   "--backend-config", "bucket=b")
    assert done.returncode == 1
    assert "variable projectid is not declared by" in done.stderr
    assert cli.calls() == []


def test_gke_state_bucket_is_required(cli: Cli, gke_var_file: Path) -> None:
    done = cli.run("plan", "--env", "gke", "--var-file", str(gke_var_file))
    assert done.returncode == 1
    assert "keeps its state in a gcs backend: pass --backend-config bucket=<value>" in done.stderr
    assert cli.calls() == []


def test_kind_without_a_docker_daemon_is_refused(cli: Cli) -> None:
    done = cli.run("apply", "--env", "kind", "--auto-approve")
    assert done.returncode == 1
    assert "the kind env needs a running Docker daemon, and none answers at unix:///nonexistent/docker.sock" in (
        done.stderr)
    assert cli.calls() == []


def test_apply_and_destroy_need_auto_approve(cli: Cli, gke_var_file: Path) -> None:
    for command in ("apply", "destroy"):
        done = cli.run(command, "--env", "gke", "--var-file", str(gke_var_file), "--backend-config", "bucket=b")
        assert done.returncode == 1
        assert f"{command} changes the gke environment: rerun with --auto-approve" in done.stderr
    assert cli.calls() == []


def test_plan_inits_then_plans_with_the_variables_given(cli: Cli, gke_var_file: Path) -> None:
    done = cli.run("plan", "--env", "gke", "--var-file", str(gke_var_file), "--var", "cluster_name=mcc2",
                   "--backend-config", "bucket=site-tfstate", "--backend-config", "prefix=mcc/gke")
    assert done.returncode == 0, done.stderr
    init, plan = cli.calls()
    env_dir = str(ROOT / "terraform" / "envs" / "gke")
    assert init["cwd"] == plan["cwd"] == env_dir
    assert init["args"][0] == "init" and "-input=false" in init["args"]
    assert {"-backend-config=bucket=site-tfstate", "-backend-config=prefix=mcc/gke"} <= set(init["args"])
    assert plan["args"][0] == "plan" and {"-input=false", "-detailed-exitcode"} <= set(plan["args"])
    assert f"-var-file={gke_var_file}" in plan["args"]
    given = [json.loads(text) for name, text in plan["var_files"].items() if name != str(gke_var_file)]
    assert given == [{"cluster_name": "mcc2"}]
    assert init["env"]["TF_IN_AUTOMATION"] == "1"
    assert "Plan: 42 to add" in done.stdout
    assert "objects would be applied" in done.stdout


def test_apply_creates_the_cluster_then_every_object_of_the_overlay(
        cli: Cli, kube_api: ApiStandin, registry: Registry, docker_socket: str) -> None:
    cli.env["DOCKER_HOST"] = docker_socket
    overlay = kind_overlay(cli.tmp, registry.host)
    cli.set_outputs(kind_outputs(cli.tmp, kube_api.url, registry.host))
    done = cli.run("apply", "--env", "kind", "--auto-approve", "--overlay", str(overlay))
    assert done.returncode == 0, done.stderr
    assert cli.commands() == ["init", "output", "apply", "output"]
    assert "-auto-approve" in cli.calls()[2]["args"]
    expected = render(overlay)
    assert {collection(obj): obj for obj in expected} == kube_api.objects
    posts = [path for method, path in kube_api.writes()]
    assert posts[0] == "/api/v1/namespaces" and len(posts) == len(expected)
    assert all(auth == "Bearer standin-token" for *_, auth in kube_api.journal)
    assert f"applied {len(expected)} objects" in done.stdout
    assert "Service/auth created" in done.stdout


def test_a_second_apply_checks_the_cluster_first_and_merge_patches(
        cli: Cli, kube_api: ApiStandin, registry: Registry, docker_socket: str) -> None:
    cli.env["DOCKER_HOST"] = docker_socket
    overlay = kind_overlay(cli.tmp, registry.host)
    cli.set_outputs(kind_outputs(cli.tmp, kube_api.url, registry.host))
    assert cli.run("apply", "--env", "kind", "--auto-approve", "--overlay", str(overlay)).returncode == 0
    kube_api.journal.clear()
    done = cli.run("apply", "--env", "kind", "--auto-approve", "--overlay", str(overlay))
    assert done.returncode == 0, done.stderr
    assert kube_api.journal[0][1] == "/version"  # reached before terraform apply ran again
    assert {method for method, _ in kube_api.writes()} == {"PATCH"}
    assert {ct for method, _, ct, *_ in kube_api.journal if method == "PATCH"} == {"application/merge-patch+json"}
    assert "ConfigMap/mcc-config configured" in done.stdout


def test_an_unreachable_api_of_an_existing_cluster_stops_before_terraform_apply(
        cli: Cli, registry: Registry, gke_var_file: Path, tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{closed_port()}"
    overlay = tmp_path / "manifests"
    overlay.mkdir()
    (overlay / "config.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap",
                                                         "metadata": {"name": "c"}, "data": {"a": "b"}}))
    cli.set_state({"kubeconfig_path": str(kubeconfig(tmp_path, api, "gke_mcc")), "kubeconfig_context": "gke_mcc",
                   "image_registry": f"{registry.host}/mcc-test/mcc", "namespace": "mcc"})
    done = cli.run("apply", "--env", "gke", "--var-file", str(gke_var_file), "--backend-config", "bucket=b",
                   "--auto-approve", "--overlay", str(overlay))
    assert done.returncode == 1
    assert f"the Kubernetes API at {api} is unreachable" in done.stderr
    assert "nothing was changed" in done.stderr
    assert cli.commands() == ["init", "output"]


def test_an_unreachable_registry_stops_before_anything_changes(
        cli: Cli, kube_api: ApiStandin, docker_socket: str) -> None:
    cli.env["DOCKER_HOST"] = docker_socket
    dead = f"127.0.0.1:{closed_port()}"
    cli.set_state(kind_outputs(cli.tmp, kube_api.url, dead))
    done = cli.run("apply", "--env", "kind", "--auto-approve", "--overlay", str(kind_overlay(cli.tmp, dead)))
    assert done.returncode == 1
    assert f"image registry {dead} is unreachable" in done.stderr
    assert cli.commands() == ["init", "output"]
    assert kube_api.writes() == []


def test_images_not_pushed_yet_are_named_and_nothing_is_applied(
        cli: Cli, kube_api: ApiStandin, registry: Registry, docker_socket: str) -> None:
    cli.env["DOCKER_HOST"] = docker_socket
    registry = registry.without("orthanc", cli.tmp / "images")
    cli.set_outputs(kind_outputs(cli.tmp, kube_api.url, registry.host))
    done = cli.run("apply", "--env", "kind", "--auto-approve", "--overlay", str(kind_overlay(cli.tmp, registry.host)))
    assert done.returncode == 1
    assert f"not in the registry yet: {registry.host}/mcc/orthanc:dev; push them first" in done.stderr
    assert "the infrastructure is applied, no manifest is" in done.stderr
    assert kube_api.writes() == []


def test_an_overlay_pulling_from_another_registry_is_refused(
        cli: Cli, kube_api: ApiStandin, registry: Registry, docker_socket: str) -> None:
    cli.env["DOCKER_HOST"] = docker_socket
    cli.set_state(kind_outputs(cli.tmp, kube_api.url, registry.host))
    done = cli.run("apply", "--env", "kind", "--auto-approve")  # the real overlay: localhost:5001
    assert done.returncode == 1
    assert "uses image localhost:5001/mcc/" in done.stderr
    assert f"not in this env's registry {registry.host}" in done.stderr
    assert cli.commands() == ["init", "output"]
    assert kube_api.writes() == []


def test_an_api_unreachable_after_a_first_apply_says_what_was_applied(
        cli: Cli, registry: Registry, docker_socket: str) -> None:
    cli.env["DOCKER_HOST"] = docker_socket
    api = f"http://127.0.0.1:{closed_port()}"
    cli.set_outputs(kind_outputs(cli.tmp, api, registry.host))
    done = cli.run("apply", "--env", "kind", "--auto-approve", "--overlay", str(kind_overlay(cli.tmp, registry.host)))
    assert done.returncode == 1
    assert f"the Kubernetes API at {api} is unreachable" in done.stderr
    assert "the infrastructure is applied, no manifest is: rerun with --skip-infra" in done.stderr
    assert cli.commands() == ["init", "output", "apply", "output"]


def test_manifests_only_apply_needs_an_existing_cluster(cli: Cli, docker_socket: str) -> None:
    cli.env["DOCKER_HOST"] = docker_socket
    done = cli.run("apply", "--env", "kind", "--auto-approve", "--skip-infra")
    assert done.returncode == 1
    assert "the kind cluster is missing: its Terraform state has no outputs" in done.stderr
    assert cli.commands() == ["init", "output"]


def test_a_failing_terraform_apply_is_reported_and_no_manifest_applied(
        cli: Cli, kube_api: ApiStandin, registry: Registry, docker_socket: str) -> None:
    cli.env |= {"DOCKER_HOST": docker_socket, "TF_STANDIN_FAIL": "apply"}
    cli.set_outputs(kind_outputs(cli.tmp, kube_api.url, registry.host))
    done = cli.run("apply", "--env", "kind", "--auto-approve", "--overlay", str(kind_overlay(cli.tmp, registry.host)))
    assert done.returncode == 1
    assert "terraform apply failed (exit 1)" in done.stderr
    assert "stand-in told to fail" in done.stderr  # terraform's own output reaches the operator
    assert kube_api.journal == []


def test_destroy_runs_terraform_destroy_with_the_variables(cli: Cli, gke_var_file: Path) -> None:
    cli.set_state({"namespace": "mcc"})
    done = cli.run("destroy", "--env", "gke", "--var-file", str(gke_var_file), "--backend-config", "bucket=b",
                   "--auto-approve")
    assert done.returncode == 0, done.stderr
    assert cli.commands() == ["init", "destroy"]
    destroy = cli.calls()[1]["args"]
    assert {"-auto-approve", "-input=false", f"-var-file={gke_var_file}"} <= set(destroy)
    assert json.loads(Path(cli.env["TF_STANDIN_STATE"]).read_text()) == {}
    assert "Destroy complete!" in done.stdout


def test_a_missing_var_file_is_named(cli: Cli, tmp_path: Path) -> None:
    done = cli.run("plan", "--env", "gke", "--var-file", str(tmp_path / "nope.tfvars"), "--backend-config", "bucket=b")
    assert done.returncode == 1
    assert f"--var-file {tmp_path / 'nope.tfvars'}: no such file" in done.stderr
    assert cli.calls() == []


def test_gke_without_credentials_says_which_command_writes_them(
        cli: Cli, registry: Registry, gke_var_file: Path, tmp_path: Path) -> None:
    overlay = tmp_path / "manifests"
    overlay.mkdir()
    (overlay / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
    command = "gcloud container clusters get-credentials mcc --region europe-west1 --project mcc-test"
    cli.set_state({"kubeconfig_context": "gke_mcc-test_europe-west1_mcc", "credentials_command": command,
                   "image_registry": f"{registry.host}/mcc-test/mcc", "namespace": "mcc"})
    done = cli.run("apply", "--env", "gke", "--var-file", str(gke_var_file), "--backend-config", "bucket=b",
                   "--auto-approve", "--skip-infra", "--overlay", str(overlay))
    assert done.returncode == 1
    assert f"the cluster's kubeconfig {tmp_path / '.kube' / 'config'} does not exist (run: {command})" in done.stderr
    assert cli.commands() == ["init", "output"]


def knative_objects_dir(tmp_path: Path, registry: str) -> tuple[Path, list[dict[str, Any]]]:
    """The kind overlay's Knative Services and NetworkPolicies, as a plain folder of YAML (what the Knative stand-in
    serves)."""
    objects = [o for o in render(kind_overlay(tmp_path, registry)) if o["kind"] in ("Service", "NetworkPolicy")
               and o["apiVersion"] in ("serving.knative.dev/v1", "networking.k8s.io/v1")]
    folder = tmp_path / "knative-only"
    folder.mkdir()
    (folder / "objects.yaml").write_text(yaml.safe_dump_all(objects))
    return folder, objects


def test_the_overlay_s_knative_services_pass_the_knative_schemas_of_the_api_standin(
        cli: Cli, registry: Registry, docker_socket: str) -> None:
    from tests.support.kube_api_standin import POLICIES, SERVICES, KubeApiStandin

    cli.env["DOCKER_HOST"] = docker_socket
    folder, objects = knative_objects_dir(cli.tmp, registry.host)
    services = sorted(o["metadata"]["name"] for o in objects if o["kind"] == "Service")
    with KubeApiStandin() as standin:
        cli.set_state(kind_outputs(cli.tmp, standin.url, registry.host))
        done = cli.run("apply", "--env", "kind", "--auto-approve", "--skip-infra", "--overlay", str(folder))
        assert done.returncode == 0, done.stderr
        assert standin.names(SERVICES, "mcc") == services and len(services) >= 6
        assert standin.names(POLICIES, "mcc") == sorted(o["metadata"]["name"] for o in objects
                                                        if o["kind"] == "NetworkPolicy")
        auth = next(o for o in objects if o["metadata"]["name"] == "auth")
        assert standin.get(SERVICES, "mcc", "auth")["spec"]["template"] == auth["spec"]["template"]

        standin.fail_next("PATCH", SERVICES, status=500)
        done = cli.run("apply", "--env", "kind", "--auto-approve", "--skip-infra", "--overlay", str(folder))
        assert done.returncode == 1
        first = next(o for o in objects if o["kind"] == "Service")["metadata"]["name"]  # applied after the policies
        assert f"Service/{first}: the API server answered 500" in done.stderr
