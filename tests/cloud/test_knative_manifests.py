"""knative/: every overlay and every model-version service validates against the Kubernetes schemas and Knative's
Service CRD, and says what the platform needs: scale to zero, probes, limits, locked-down pods, secrets by reference."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from model_builder.deploy import Limits, ServiceSpec
from model_builder.deploy.knative_objects import ClusterSettings, model_network_policy, model_service
from tests.cloud.conftest import KNATIVE, OVERLAYS, ROOT
from tests.support.kube_api_standin import (
    KUBERNETES_VERSION,
    knative_admission_errors,
    knative_service_schema,
    schema_errors,
)

FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/main.py"))
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|DATABASE_URL|_KEY$|CREDENTIAL", re.IGNORECASE)
GiB = 1024**3


def is_knative_service(obj: dict[str, Any]) -> bool:
    return obj["apiVersion"] == "serving.knative.dev/v1" and obj["kind"] == "Service"


def pods(objects: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, pod metadata, pod spec) of every workload: Knative Services and Deployments."""
    for obj in objects:
        if is_knative_service(obj) or obj["kind"] == "Deployment":
            template = obj["spec"]["template"]
            yield obj["metadata"]["name"], template.get("metadata", {}), template["spec"]


def knative_services(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in objects if is_knative_service(obj)}


@pytest.fixture
def model_objects(make_spec: Callable[..., ServiceSpec]) -> list[dict[str, Any]]:
    """A model version's objects as the gke overlay's settings render them (gVisor, non-default limits)."""
    spec = make_spec(memory_bytes=6 * GiB, cpus=1.5, tmpfs_bytes=512 * 1024**2, request_seconds=90.0,
                     start_seconds=45.0)
    settings = ClusterSettings(namespace="mcc", image="europe-west1-docker.pkg.dev/p/mcc/models:{bundle}",
                               runtime_class="gvisor")
    return [model_service(spec, settings), model_network_policy(spec, settings)]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_object_validates_against_its_schema(rendered: dict[str, list[dict[str, Any]]],
                                                            overlay: str) -> None:
    objects = rendered[overlay]
    assert objects
    for obj in objects:
        assert schema_errors(obj) == [], (obj["kind"], obj["metadata"]["name"])
        if is_knative_service(obj):
            assert knative_admission_errors(obj) == [], obj["metadata"]["name"]
    built_in = [obj for obj in objects if not is_knative_service(obj)]
    for obj in built_in:  # kubernetes-validate knows every one of them: none was skipped as an unknown kind
        assert kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True) is not None


def test_the_model_service_and_its_policy_validate(model_objects: list[dict[str, Any]]) -> None:
    service, policy = model_objects
    assert schema_errors(service) == [] and knative_admission_errors(service) == []
    assert schema_errors(policy) == []
    kubernetes_validate.validate(policy, KUBERNETES_VERSION, strict=True)


def test_schemas_refuse_what_the_api_server_would(model_objects: list[dict[str, Any]]) -> None:
    service, policy = model_objects
    service["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "four gigs"
    service["spec"]["template"]["spec"]["containerConcurrency"] = "one"
    service["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/"}}  # a typo
    policy["spec"]["podSelector"] = "all"
    errors = schema_errors(service)
    assert len(errors) == 3 and errors[-1].endswith("containers[0].readinesProbe: unknown field")
    pod = service["spec"]["template"]["spec"]
    pod["containers"][0]["volumeMounts"].append({"name": "keys", "mountPath": "/dev"})
    pod["volumes"].append({"name": "keys", "secret": {"secretName": "k"}})
    pod["containers"][0]["readinessProbe"]["timeoutSeconds"] = 0
    assert [e.split(": ", 1)[1] for e in knative_admission_errors(service)] == [
        "timeoutSeconds, failureThreshold and successThreshold must be at least 1 when periodSeconds is set",
        "mountPath '/dev' is a reserved path", "volume mount should be readOnly for this type of volume"]
    assert schema_errors(policy)
    assert knative_service_schema()["properties"]["spec"]["properties"]["template"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_function_is_a_knative_service_scaled_to_zero(rendered: dict[str, list[dict[str, Any]]],
                                                            overlay: str) -> None:
    services = knative_services(rendered[overlay])
    portal = services.pop("portal")
    assert sorted(services) == FUNCTIONS
    for name, service in services.items():
        assert service["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"  # portal only
        template = service["spec"]["template"]
        annotations = template["metadata"]["annotations"]
        assert annotations["autoscaling.knative.dev/min-scale"] == "0"
        assert int(annotations["autoscaling.knative.dev/target"]) > 0
        assert int(annotations["autoscaling.knative.dev/max-scale"]) >= 1
        container = template["spec"]["containers"][0]
        assert f"--target={name}" in container["args"]
        assert f"--source=functions/{name}/main.py" in container["args"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert set(container["resources"]["requests"]) == set(container["resources"]["limits"]) == {"cpu", "memory"}
    # The portal: the public origin, the functions behind it by their cluster-local names, no key and no secret.
    assert "networking.knative.dev/visibility" not in portal["metadata"]["labels"]  # the one public route
    template = portal["spec"]["template"]
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "0"
    container = template["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["MCC_FUNCTION_URL_TEMPLATE"] == "http://{name}.%s.svc.cluster.local" % portal["metadata"]["namespace"]
    assert referenced_secrets([portal]) == set() and "envFrom" not in container
    assert all("valueFrom" not in e for e in container.get("env", []))
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_archive_and_the_executor_are_deployments(rendered: dict[str, list[dict[str, Any]]],
                                                      overlay: str) -> None:
    deployments = {obj["metadata"]["name"]: obj for obj in rendered[overlay] if obj["kind"] == "Deployment"}
    assert sorted(deployments) == ["inference-executor", "orthanc"]
    executor = deployments["inference-executor"]["spec"]["template"]["spec"]["containers"][0]
    assert executor["command"][-2:] == ["-m", "functions.inference.executor"]
    services = {obj["metadata"]["name"] for obj in rendered[overlay] if obj["kind"] == "Service"
                and obj["apiVersion"] == "v1"}
    assert services == {"orthanc"}


def all_pods(rendered: dict[str, list[dict[str, Any]]],
             model: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for overlay in OVERLAYS:
        yield from pods(rendered[overlay])
    yield from pods(model)


def test_every_container_runs_locked_down(rendered: dict[str, list[dict[str, Any]]],
                                          model_objects: list[dict[str, Any]]) -> None:
    for name, _meta, pod in all_pods(rendered, model_objects):
        pod_context = pod.get("securityContext", {})
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is True, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name
            seccomp = context.get("seccompProfile", pod_context.get("seccompProfile"))
            assert seccomp == {"type": "RuntimeDefault"}, name
            assert {"mountPath": "/tmp"}.items() <= next(m for m in container["volumeMounts"]
                                                         if m["mountPath"] == "/tmp").items(), name


def test_only_the_model_deployer_gets_an_api_token(rendered: dict[str, list[dict[str, Any]]],
                                                   model_objects: list[dict[str, Any]]) -> None:
    for name, _meta, pod in all_pods(rendered, model_objects):
        deployer = pod.get("serviceAccountName") == "mcc-model-deployer"
        assert pod["automountServiceAccountToken"] is deployer, name
    for overlay in OVERLAYS:
        role = next(obj for obj in rendered[overlay] if obj["kind"] == "Role")
        assert {r for rule in role["rules"] for r in rule["resources"]} == {"services", "revisions",
                                                                           "networkpolicies"}
        assert all("*" not in rule["verbs"] for rule in role["rules"])


def test_no_secret_is_written_in_a_manifest(rendered: dict[str, list[dict[str, Any]]],
                                            model_objects: list[dict[str, Any]]) -> None:
    objects = [*rendered["kind"], *rendered["gke"], *model_objects]
    assert not [obj for obj in objects if obj["kind"] == "Secret"]
    for obj in objects:
        if obj["kind"] == "ConfigMap":
            assert not [key for key in obj["data"] if SECRET_NAMES.search(key) and key != "MCC_KEY_PROVIDER"]
            assert not [v for v in obj["data"].values() if re.search(r"://[^/@\s]+:[^/@\s]+@", v)]
    for name, _meta, pod in all_pods(rendered, model_objects):
        for container in pod["containers"]:
            for variable in container.get("env", []):
                if SECRET_NAMES.search(variable["name"]):
                    assert "value" not in variable and "secretKeyRef" in variable["valueFrom"], (name, variable)


def referenced_secrets(objects: list[dict[str, Any]]) -> set[str]:
    found = set()
    for _name, _meta, pod in pods(objects):
        found |= {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        for container in pod["containers"]:
            found |= {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", []) if "valueFrom" in e}
            found |= {e["secretRef"]["name"] for e in container.get("envFrom", []) if "secretRef" in e}
    return found


def test_every_secret_referenced_is_documented(rendered: dict[str, list[dict[str, Any]]]) -> None:
    readme = (KNATIVE / "README.md").read_text()
    secrets = referenced_secrets(rendered["kind"]) | referenced_secrets(rendered["gke"])
    assert {"mcc-database", "mcc-orthanc", "mcc-platform-keys", "mcc-signing-keys"} <= secrets
    assert [name for name in sorted(secrets) if f"`{name}`" not in readme] == []


def test_only_auth_holds_the_token_signing_key(rendered: dict[str, list[dict[str, Any]]]) -> None:
    holders = {name for name, _meta, pod in pods(rendered["gke"])
               if any(v.get("secret", {}).get("secretName") == "mcc-signing-keys" for v in pod.get("volumes", []))}
    assert holders == {"auth"}


@pytest.mark.parametrize(("overlay", "registry"), [("kind", "localhost:5001/"),
                                                   ("gke", "europe-west1-docker.pkg.dev/")])
def test_overlays_set_the_namespace_and_the_registry(rendered: dict[str, list[dict[str, Any]]], overlay: str,
                                                     registry: str) -> None:
    objects = rendered[overlay]
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "mcc", (obj["kind"], obj["metadata"]["name"])
    images = {c["image"] for _name, _meta, pod in pods(objects) for c in pod["containers"]}
    assert images and all(image.startswith(registry) for image in images), images
    config = next(obj for obj in objects if obj["kind"] == "ConfigMap")["data"]
    assert config["MCC_KNATIVE_MODEL_IMAGE"].startswith(registry)
    assert config["MCC_KNATIVE_NAMESPACE"] == "mcc"
    binding = next(obj for obj in objects if obj["kind"] == "RoleBinding")
    assert binding["subjects"][0]["namespace"] == "mcc"


def test_gke_binds_workload_identity_and_sandboxes_models(rendered: dict[str, list[dict[str, Any]]]) -> None:
    accounts = [obj for obj in rendered["gke"] if obj["kind"] == "ServiceAccount"]
    assert accounts and all(obj["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
                            .endswith(".iam.gserviceaccount.com") for obj in accounts)
    config = next(obj for obj in rendered["gke"] if obj["kind"] == "ConfigMap")["data"]
    assert config["MCC_KNATIVE_RUNTIME_CLASS"] == "gvisor"
    kind_config = next(obj for obj in rendered["kind"] if obj["kind"] == "ConfigMap")["data"]
    assert "MCC_KNATIVE_RUNTIME_CLASS" not in kind_config


def test_the_model_service_has_the_sandbox_limits(model_objects: list[dict[str, Any]]) -> None:
    service, policy = model_objects
    template = service["spec"]["template"]
    pod = template["spec"]
    container = pod["containers"][0]
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/min-scale"] == "0"
    assert template["metadata"]["annotations"]["autoscaling.knative.dev/max-scale"] == "2"
    assert container["resources"]["limits"] == container["resources"]["requests"] == {"cpu": "1500m",
                                                                                      "memory": "6Gi"}
    assert pod["timeoutSeconds"] == 90
    probe = container["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 45
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "512Mi"}}]
    assert pod["runtimeClassName"] == "gvisor"
    assert pod["automountServiceAccountToken"] is False and pod["enableServiceLinks"] is False
    assert pod["containerConcurrency"] == 1
    assert service["metadata"]["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    assert service["spec"]["traffic"] == [{"revisionName": template["metadata"]["name"], "percent": 100}]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and policy["spec"]["egress"] == []
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items()


def test_the_default_limits_match_the_local_sandbox(make_spec: Callable[..., ServiceSpec]) -> None:
    limits = Limits()
    service = model_service(make_spec(), ClusterSettings())
    container = service["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": f"{limits.memory_bytes // GiB}Gi"}
    assert service["spec"]["template"]["spec"]["timeoutSeconds"] == limits.request_seconds
    assert "runtimeClassName" not in service["spec"]["template"]["spec"]


def test_the_same_spec_renders_the_same_revision(make_spec: Callable[..., ServiceSpec]) -> None:
    names = {model_service(make_spec(**limits), ClusterSettings())["spec"]["template"]["metadata"]["name"]
             for limits in ({}, {}, {"cpus": 2.0})}
    assert len(names) == 2
    assert all(name.startswith(make_spec().name + "-") for name in names)


def used_fields(value: Any, schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, schema) of every field `value` sets, walking the CRD schema beside it."""
    if isinstance(value, dict):
        for key, item in value.items():
            sub = schema.get("properties", {}).get(key)
            if sub is not None:
                yield f"{path}.{key}", sub
                yield from used_fields(item, sub, f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            yield from used_fields(item, schema["items"], path + "[]")


def test_the_knative_feature_flags_the_manifests_need_are_documented(
        rendered: dict[str, list[dict[str, Any]]], model_objects: list[dict[str, Any]]) -> None:
    readme = (KNATIVE / "README.md").read_text()
    services = [obj for objs in (*rendered.values(), model_objects) for obj in objs if is_knative_service(obj)]
    flags = {flag for service in services for _path, sub in used_fields(service, knative_service_schema())
             for flag in re.findall(r"feature flag - ([\w.-]+)", sub.get("description", ""))}
    assert "kubernetes.podspec-runtimeclassname" in flags  # the gVisor sandbox of model pods
    assert [flag for flag in sorted(flags) if f"`{flag}`" not in readme] == []


def test_readme_names_every_file_under_knative() -> None:
    readme = (KNATIVE / "README.md").read_text()
    files = sorted(str(p.relative_to(KNATIVE)) for p in KNATIVE.rglob("*.yaml"))
    assert [f for f in files if f not in readme] == []


def test_kind_overlay_is_what_the_kustomize_cli_prints(rendered: dict[str, list[dict[str, Any]]],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    from deploy.kustomize import main

    assert main([str(Path(KNATIVE / "overlays" / "kind"))]) == 0
    assert list(yaml.safe_load_all(capsys.readouterr().out)) == rendered["kind"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_config_map_is_a_valid_platform_configuration(rendered: dict[str, list[dict[str, Any]]], overlay: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.common.platform.config import Settings

    data = next(obj for obj in rendered[overlay] if obj["kind"] == "ConfigMap")["data"]
    known = {f"MCC_{name.upper()}" for name in Settings.model_fields}
    assert [key for key in data if key not in known] == []
    for key in [k for k in os.environ if k.startswith("MCC_")]:
        monkeypatch.delenv(key)
    for key, value in data.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.model_deployer == "knative" and settings.storage_backend == "s3"
    assert settings.knative_namespace == "mcc"


def test_only_the_orthanc_clients_hold_its_credentials_and_may_reach_it(
        rendered: dict[str, list[dict[str, Any]]]) -> None:
    holders, labelled = set(), set()
    for name, meta, pod in pods(rendered["gke"]):
        if name == "orthanc":
            continue
        deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                      "spec": {"template": {"spec": pod}}}
        if "mcc-orthanc" in referenced_secrets([deployment]):
            holders.add(name)
        if meta.get("labels", {}).get("medcloudcare.io/orthanc-client") == "true":
            labelled.add(name)
    assert holders == labelled == {"studies", "inference", "dicomweb", "inference-executor"}
