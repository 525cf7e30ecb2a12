"""Deploy MedCloudCare to a Kubernetes environment: Terraform builds the cluster (terraform/envs/<env>), then the
manifests of knative/overlays/<env> are applied through the Kubernetes API.

    python -m deploy plan    --env kind
    python -m deploy apply   --env gke --var-file prod.tfvars --backend-config bucket=my-tfstate --auto-approve
    python -m deploy destroy --env kind --auto-approve

Every precondition (known env, terraform installed, variables and backend settings given, Docker for kind, the
cluster's API and image registry reachable when the cluster exists already, the overlay renders and points at this
env's registry) is checked before anything that changes state runs, so a refusal leaves everything as it was.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
import yaml
from python_terraform import IsFlagged, Terraform

from deploy import kube_apply, registry_checks
from deploy.errors import DeployError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
ENVS_DIR = ROOT / "terraform" / "envs"
OVERLAYS_DIR = ROOT / "knative" / "overlays"
COMMANDS = ("plan", "apply", "destroy")
INSTALL_TERRAFORM = (
    "terraform (>= 1.6) was not found on PATH. Install it from https://developer.hashicorp.com/terraform/install "
    "(Debian/Ubuntu: add the HashiCorp apt repository, then `apt-get install terraform`; or unzip the release "
    "binary into /usr/local/bin), or pass --terraform /path/to/terraform."
)
# Plain values (no quotes, no block markers or comments), as Terraform itself reads them.
HCL_OPTIONS = hcl2.SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)
# Backends whose settings the env leaves to `terraform init -backend-config` and the settings each cannot do without.
BACKEND_REQUIRED = {"gcs": ("bucket",), "s3": ("bucket", "key", "region")}


@dataclass(frozen=True)
class Request:
    """One deploy command as given on the command line."""

    command: str
    env: str
    var_files: tuple[Path, ...] = ()
    variables: dict[str, str] = field(default_factory=dict)
    backend_config: dict[str, str] = field(default_factory=dict)
    auto_approve: bool = False
    terraform: str | None = None
    overlay: Path | None = None
    kubeconfig: Path | None = None
    context: str | None = None
    skip_infra: bool = False


def env_dir(env: str, envs_dir: Path = ENVS_DIR) -> Path:
    """The Terraform folder of `env`, or a refusal listing the envs there are."""
    known = sorted(p.name for p in envs_dir.iterdir() if (p / "main.tf").is_file()) if envs_dir.is_dir() else []
    if env not in known:
        raise DeployError(f"unknown environment {env!r}: choose one of {', '.join(known) or '(none found)'} "
                          f"(folders of {envs_dir})")
    return envs_dir / env


def find_terraform(explicit: str | None) -> str:
    """Path of the terraform binary, or how to install it."""
    found = shutil.which(explicit or "terraform")
    if not found:
        raise DeployError(INSTALL_TERRAFORM if not explicit else f"--terraform {explicit}: no such executable")
    return found


def _load_hcl(path: Path) -> dict[str, Any]:
    try:
        with path.open() as handle:
            return hcl2.load(handle, serialization_options=HCL_OPTIONS)
    except Exception as e:  # python-hcl2 raises lark errors of several kinds
        raise DeployError(f"{path}: not valid HCL ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from e


def declared_variables(directory: Path) -> dict[str, dict[str, Any]]:
    """Variable blocks of every .tf file in `directory`, by name."""
    variables: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in _load_hcl(path).get("variable", []):
            for name, body in block.items():
                variables[name] = body
    return variables


def _tfvars_names(path: Path) -> set[str]:
    if not path.is_file():
        raise DeployError(f"--var-file {path}: no such file")
    if path.name.endswith(".json"):
        try:
            return set(json.loads(path.read_text()))
        except (json.JSONDecodeError, TypeError) as e:
            raise DeployError(f"{path}: not a JSON object of variables ({e})") from e
    return set(_load_hcl(path))


def check_variables(directory: Path, request: Request) -> None:
    """Refuse unknown variables and name every required one that no -var, var file or TF_VAR_ sets."""
    declared = declared_variables(directory)
    auto_files = [p for p in [directory / "terraform.tfvars", directory / "terraform.tfvars.json"] if p.is_file()]
    auto_files += sorted(directory.glob("*.auto.tfvars")) + sorted(directory.glob("*.auto.tfvars.json"))
    given = set(request.variables)
    for path in [*auto_files, *request.var_files]:
        given |= _tfvars_names(path)
    unknown = sorted(set(request.variables) - set(declared))
    if unknown:
        raise DeployError(f"variable {unknown[0]} is not declared by {directory}; "
                          f"declared: {', '.join(sorted(declared))}")
    given |= {k.removeprefix("TF_VAR_") for k in os.environ if k.startswith("TF_VAR_")}
    missing = [name for name, body in declared.items() if "default" not in body and name not in given]
    if missing:
        lines = [f"  {name}: {declared[name].get('description', '')}" for name in missing]
        raise DeployError(f"missing variable{'s' if len(missing) > 1 else ''} for env {directory.name} "
                          f"(set with --var NAME=VALUE, --var-file, terraform.tfvars or TF_VAR_NAME):\n"
                          + "\n".join(lines))


def check_backend(directory: Path, backend_config: dict[str, str]) -> None:
    """Refuse a partial backend configuration the env expects on the command line but did not get."""
    for path in sorted(directory.glob("*.tf")):
        for block in _load_hcl(path).get("terraform", []):
            for backend in block.get("backend", []):
                for kind, settings in backend.items():
                    missing = [k for k in BACKEND_REQUIRED.get(kind, ()) if k not in (settings or {})
                               and k not in backend_config]
                    if missing:
                        raise DeployError(f"env {directory.name} keeps its state in a {kind} backend: pass "
                                          + " ".join(f"--backend-config {k}=<value>" for k in missing))


def check_docker() -> None:
    """kind runs its nodes as Docker containers: refuse when no Docker daemon answers."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    url = urllib.parse.urlparse(host)
    try:
        if url.scheme == "unix":
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(3)
                sock.connect(url.path)
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                answer = sock.recv(64)
        else:
            with socket.create_connection((url.hostname or "127.0.0.1", url.port or 2375), timeout=3):
                answer = b"HTTP"
    except OSError as e:
        raise DeployError(f"the kind env needs a running Docker daemon, and none answers at {host} "
                          f"({e.strerror or e}): start Docker (or set DOCKER_HOST) and retry") from e
    if not answer.startswith(b"HTTP"):
        raise DeployError(f"{host} does not answer like a Docker daemon")


def render_overlay(overlay: Path) -> list[dict[str, Any]]:
    """Objects of a kustomize overlay, or of a plain folder of YAML files."""
    if not overlay.is_dir():
        raise DeployError(f"overlay {overlay} does not exist")
    if (overlay / "kustomization.yaml").is_file():
        from deploy import kustomize

        try:
            return kustomize.render(overlay)
        except kustomize.KustomizeError as e:
            raise DeployError(f"cannot render {e}") from e
    objects: list[dict[str, Any]] = []
    for path in sorted(overlay.glob("*.y*ml")):
        try:
            objects += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
        except yaml.YAMLError as e:
            raise DeployError(f"{path}: not valid YAML ({e})") from e
    if not objects:
        raise DeployError(f"overlay {overlay} holds no manifests")
    return objects


@dataclass
class Environment:
    """One env's Terraform folder driven through python-terraform."""

    request: Request
    directory: Path
    binary: str

    def _terraform(self) -> Terraform:
        return Terraform(working_dir=str(self.directory), terraform_bin_path=self.binary)

    def _run(self, *args: str, ok: tuple[int, ...] = (0,), **options: Any) -> None:
        options = {"no_color": IsFlagged, "input": False, **options}
        code, _, _ = self._terraform().cmd(*args, capture_output=False, **options)
        if code not in ok:
            raise DeployError(f"terraform {args[0]} failed (exit {code}) in {self.directory}; see its output above")

    def _var_options(self) -> dict[str, Any]:
        return {"var_file": [str(p) for p in self.request.var_files] or None, "var": self.request.variables or None}

    def init(self) -> None:
        self._run("init", backend_config=self.request.backend_config or None)

    def plan(self) -> None:
        self._run("plan", ok=(0, 2), detailed_exitcode=IsFlagged, **self._var_options())

    def apply(self) -> None:
        self._run("apply", auto_approve=IsFlagged, **self._var_options())

    def destroy(self) -> None:
        self._run("destroy", auto_approve=IsFlagged, **self._var_options())

    def outputs(self) -> dict[str, Any]:
        """Output values of the env's state; empty when nothing was applied yet."""
        code, out, err = self._terraform().output_cmd(json=IsFlagged)
        if code != 0:
            raise DeployError(f"terraform output failed in {self.directory}: {err.strip()}")
        try:
            return {name: item.get("value") for name, item in (json.loads(out or "{}") or {}).items()}
        except (json.JSONDecodeError, AttributeError) as e:
            raise DeployError(f"terraform output -json printed something else than JSON: {e}") from e


def connect(outputs: dict[str, Any], request: Request) -> kube_apply.Cluster:
    """A client of the env's cluster, from the outputs (kubeconfig_path, kubeconfig_context) or the options."""
    path = request.kubeconfig or outputs.get("kubeconfig_path") or os.environ.get("KUBECONFIG") or "~/.kube/config"
    context = request.context or outputs.get("kubeconfig_context")
    kubeconfig = Path(str(path)).expanduser()
    if not kubeconfig.is_file():
        hint = f" (run: {outputs['credentials_command']})" if outputs.get("credentials_command") else ""
        raise DeployError(f"the cluster's kubeconfig {kubeconfig} does not exist{hint}")
    try:
        cluster = kube_apply.Cluster.from_kubeconfig(kubeconfig, context)
    except kube_apply.ApplyError as e:
        raise DeployError(str(e)) from e
    return cluster


@dataclass
class Deployment:
    """The steps of one command, preconditions first."""

    request: Request
    out: Any = sys.stdout

    def run(self) -> None:
        request = self.request
        directory = env_dir(request.env)
        check_backend(directory, request.backend_config)  # even --skip-infra reads the outputs from the backend
        if not request.skip_infra:
            check_variables(directory, request)
            if request.env == "kind":
                check_docker()
        if request.command != "plan" and not request.auto_approve:
            raise DeployError(f"{request.command} changes the {request.env} environment: rerun with --auto-approve "
                              f"after reading `python -m deploy plan --env {request.env}`")
        objects = render_overlay(self._overlay()) if request.command != "destroy" else []
        env = Environment(request, directory, find_terraform(request.terraform))
        env.init()
        getattr(self, f"_{request.command}")(env, objects)

    def _overlay(self) -> Path:
        return self.request.overlay or OVERLAYS_DIR / self.request.env

    def _plan(self, env: Environment, objects: list[dict[str, Any]]) -> None:
        env.plan()
        self._say(f"overlay {self._overlay()}: {len(objects)} objects would be applied after terraform apply")

    def _apply(self, env: Environment, objects: list[dict[str, Any]]) -> None:
        outputs = env.outputs()
        if self.request.skip_infra:
            if not outputs:
                raise DeployError(f"the {self.request.env} cluster is missing: its Terraform state has no outputs "
                                  f"(run `python -m deploy apply --env {self.request.env} --auto-approve` first)")
            cluster = self._preflight(outputs, objects, "nothing was changed")
        else:
            if outputs:  # the cluster exists: make sure it and its registry answer before changing anything
                self._preflight(outputs, objects, "nothing was changed")
            env.apply()
            outputs = env.outputs()
            cluster = self._preflight(outputs, objects, "the infrastructure is applied, no manifest is: rerun "
                                      "with --skip-infra once it answers")
        namespace = str(outputs.get("namespace") or "default")
        try:
            for line in cluster.apply_all(objects, namespace):
                self._say(line)
        except kube_apply.ApplyError as e:
            raise DeployError(str(e)) from e
        self._say(f"applied {len(objects)} objects of {self._overlay()} to the {self.request.env} cluster")

    def _destroy(self, env: Environment, objects: list[dict[str, Any]]) -> None:
        env.destroy()

    def _preflight(self, outputs: dict[str, Any], objects: list[dict[str, Any]], state: str) -> kube_apply.Cluster:
        """The cluster, once its images, registry and API check out; `state` says what a refusal leaves behind."""
        try:
            registry = outputs.get("image_registry")
            if registry:
                registry_checks.check_images(objects, str(registry), self._overlay())
                registry_checks.probe_registry(str(registry))
                registry_checks.check_images_pushed({i for obj in objects for i in kube_apply.container_images(obj)})
            cluster = connect(outputs, self.request)
            cluster.check_reachable()
        except (DeployError, kube_apply.ApplyError) as e:
            raise DeployError(f"{e}; {state}") from e
        return cluster

    def _say(self, line: str) -> None:
        print(line, file=self.out, flush=True)


def _pairs(values: list[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise DeployError(f"{option} {value!r}: expected NAME=VALUE")
        pairs[name] = rest
    return pairs


def parse_args(argv: list[str] | None) -> Request:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--env", required=True, help="terraform/envs/<env> and knative/overlays/<env> (kind, gke)")
    parser.add_argument("--var-file", action="append", default=[], type=Path, help="a .tfvars file (repeatable)")
    parser.add_argument("--var", action="append", default=[], help="NAME=VALUE of a Terraform variable")
    parser.add_argument("--backend-config", action="append", default=[], help="KEY=VALUE for terraform init")
    parser.add_argument("--auto-approve", action="store_true", help="apply/destroy without asking (required)")
    parser.add_argument("--terraform", help="terraform executable (default: terraform on PATH)")
    parser.add_argument("--overlay", type=Path, help="manifests to apply (default: knative/overlays/<env>)")
    parser.add_argument("--kubeconfig", type=Path, help="kubeconfig (default: the env's output, then $KUBECONFIG)")
    parser.add_argument("--context", help="kubeconfig context (default: the env's kubeconfig_context output)")
    parser.add_argument("--skip-infra", action="store_true", help="apply only the manifests to the existing cluster")
    args = parser.parse_args(argv)
    return Request(
        command=args.command, env=args.env, var_files=tuple(p.resolve() for p in args.var_file),
        variables=_pairs(args.var, "--var"), backend_config=_pairs(args.backend_config, "--backend-config"),
        auto_approve=args.auto_approve, terraform=args.terraform,
        overlay=args.overlay.resolve() if args.overlay else None, kubeconfig=args.kubeconfig, context=args.context,
        skip_infra=args.skip_infra,
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; a refusal prints `deploy: <what to do>` and exits 1."""
    logging.basicConfig(level=os.environ.get("MCC_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s %(message)s")
    os.environ.setdefault("TF_IN_AUTOMATION", "1")
    try:
        Deployment(parse_args(argv)).run()
    except DeployError as e:
        print(f"deploy: {e}", file=sys.stderr)
        return 1
    return 0
