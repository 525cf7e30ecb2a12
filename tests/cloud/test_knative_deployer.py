"""`KnativeDeployer` against the Kubernetes API stand-in: the exact objects written, revisions and traffic,
conflicts, an unreachable API, and inference forwarded to a real model runtime."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from kubernetes.config import kube_config
from mcc_local.procs import free_port

from model_builder import LabelVolume, Volume
from model_builder.deploy import Deployer, ServiceConflict, ServiceSpec, SpecError, UnknownService
from model_builder.deploy.knative import (
    ClusterConflict,
    ClusterRefused,
    ClusterUnavailable,
    KnativeDeployer,
    NoEarlierRevision,
)
from model_builder.deploy.knative_objects import ClusterSettings, model_network_policy, model_service, policy_name
from model_builder.runtime.codec import decode_response, encode_request
from model_builder.testing.bundles import CLASSICAL_TEMPLATE
from tests.cloud.conftest import NAMESPACE
from tests.model_services.helpers import load_template_application
from tests.support.kube_api_standin import POLICIES, REVISIONS, SERVICES, KubeApiStandin

CLASSICAL_BUNDLE_NAME = "processing_classical"  # the bundle directory's name fills {bundle} (a digest in the platform)
SERVER_FIELDS = ("uid", "creationTimestamp", "generation", "resourceVersion")
SERVICES_PATH = f"/apis/serving.knative.dev/v1/namespaces/{NAMESPACE}/services"
POLICIES_PATH = f"/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/networkpolicies"


def as_sent(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored object without what the API server adds (server-owned metadata and status)."""
    meta = {k: v for k, v in obj["metadata"].items() if k not in SERVER_FIELDS}
    return {**{k: v for k, v in obj.items() if k != "status"}, "metadata": meta}


def writes(kube_api: KubeApiStandin) -> list[tuple[str, str, int]]:
    return [(call.method, call.path, call.status) for call in kube_api.writes()]


def traffic(kube_api: KubeApiStandin, name: str) -> list[dict[str, Any]]:
    service = kube_api.get(SERVICES, NAMESPACE, name)
    assert service is not None
    return service["spec"]["traffic"]


def revision_of(spec: ServiceSpec) -> str:
    return model_service(spec, ClusterSettings(namespace=NAMESPACE, image="registry.test/mcc/models:{bundle}"))[
        "spec"]["template"]["metadata"]["name"]


def test_knative_deployer_is_a_deployer(knative: KnativeDeployer) -> None:
    assert isinstance(knative, Deployer)


def test_deploy_writes_the_no_egress_policy_before_the_service(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                               make_spec: Callable[..., ServiceSpec]) -> None:
    spec = make_spec()
    knative.deploy(spec)

    assert writes(kube_api) == [("POST", POLICIES_PATH, 201), ("POST", SERVICES_PATH, 201)]
    settings = knative.settings
    assert as_sent(kube_api.get(POLICIES, NAMESPACE, policy_name(spec.name))) == model_network_policy(spec, settings)
    stored = kube_api.get(SERVICES, NAMESPACE, spec.name)
    assert as_sent(stored) == model_service(spec, settings)
    pod = stored["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == f"registry.test/mcc/models:{CLASSICAL_BUNDLE_NAME}"
    assert pod["automountServiceAccountToken"] is False
    assert knative.status(spec.name).state == "starting"


def test_deploying_the_same_spec_again_writes_nothing(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                      make_spec: Callable[..., ServiceSpec]) -> None:
    spec = make_spec()
    knative.deploy(spec)
    stored = kube_api.get(SERVICES, NAMESPACE, spec.name), kube_api.get(POLICIES, NAMESPACE, policy_name(spec.name))
    before = len(kube_api.writes())

    knative.deploy(make_spec())

    assert kube_api.writes()[before:] == []
    assert (kube_api.get(SERVICES, NAMESPACE, spec.name),
            kube_api.get(POLICIES, NAMESPACE, policy_name(spec.name))) == stored  # same resourceVersions


def test_a_changed_spec_is_a_new_revision_and_the_earlier_one_stays(
        knative: KnativeDeployer, kube_api: KubeApiStandin, make_spec: Callable[..., ServiceSpec]) -> None:
    first, second = make_spec(), make_spec(memory_bytes=2 * 1024**3)
    knative.deploy(first)
    kube_api.ready(NAMESPACE, first.name)
    before = kube_api.get(SERVICES, NAMESPACE, first.name)
    knative.deploy(second)
    after = kube_api.get(SERVICES, NAMESPACE, first.name)
    assert (before["metadata"]["generation"], after["metadata"]["generation"]) == (1, 2)
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert after["status"]["latestReadyRevisionName"] == revision_of(first)  # until Knative readies the new one
    assert after["status"]["latestCreatedRevisionName"] == revision_of(second)

    put = kube_api.writes()[-1]
    assert (put.method, put.path, put.status) == ("PUT", f"{SERVICES_PATH}/{first.name}", 200)
    assert put.body["spec"]["template"] == model_service(second, knative.settings)["spec"]["template"]
    old, new = revision_of(first), revision_of(second)
    assert traffic(kube_api, first.name) == [{"revisionName": old, "percent": 0, "tag": "r-" + old.rsplit("-")[-1]},
                                             {"revisionName": new, "percent": 100}]
    assert sorted(kube_api.names(REVISIONS, NAMESPACE)) == sorted([old, new])
    resources = kube_api.get(SERVICES, NAMESPACE, first.name)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["limits"]["memory"] == "2Gi"


def test_rollback_and_activate_move_traffic_and_keep_every_revision(
        knative: KnativeDeployer, kube_api: KubeApiStandin, make_spec: Callable[..., ServiceSpec]) -> None:
    first, second = make_spec(), make_spec(cpus=2.0)
    knative.deploy(first)
    knative.deploy(second)
    old, new = revision_of(first), revision_of(second)

    assert knative.rollback(first.name) == old
    patch = kube_api.writes()[-1]
    assert (patch.method, patch.content_type, patch.status) == ("PATCH", "application/merge-patch+json", 200)
    assert set(patch.body) == {"metadata", "spec"} and set(patch.body["spec"]) == {"traffic"}
    assert patch.body["metadata"] == {"resourceVersion": patch.body["metadata"]["resourceVersion"]}
    assert traffic(kube_api, first.name) == [{"revisionName": old, "percent": 100},
                                             {"revisionName": new, "percent": 0, "tag": "r-" + new.rsplit("-")[-1]}]
    with pytest.raises(NoEarlierRevision):
        knative.rollback(first.name)

    knative.activate(first.name, new)
    assert [(e["revisionName"], e["percent"]) for e in knative.revisions(first.name)] == [(old, 0), (new, 100)]
    assert sorted(kube_api.names(REVISIONS, NAMESPACE)) == sorted([old, new])
    with pytest.raises(UnknownService):
        knative.activate(first.name, f"{first.name}-0000000000")


def test_a_stale_resource_version_is_read_again_and_retried(
        knative: KnativeDeployer, kube_api: KubeApiStandin, make_spec: Callable[..., ServiceSpec]) -> None:
    first, second = make_spec(), make_spec(cpus=2.0)
    knative.deploy(first)
    knative.deploy(second)
    kube_api.before_next("PATCH", SERVICES, lambda: kube_api.touch(SERVICES, NAMESPACE, first.name))
    start = len(kube_api.journal)

    knative.rollback(first.name)

    calls = [(c.method, c.status, c.reason) for c in kube_api.journal[start:]]
    assert calls == [("GET", 200, ""), ("PATCH", 409, "Conflict"), ("GET", 200, ""), ("PATCH", 200, "")]
    assert kube_api.journal[start + 1].body["metadata"]["resourceVersion"] != \
        kube_api.journal[start + 3].body["metadata"]["resourceVersion"]
    assert traffic(kube_api, first.name)[0] == {"revisionName": revision_of(first), "percent": 100}


def test_an_object_that_keeps_changing_is_a_clear_conflict_and_stays_as_it_was(
        knative: KnativeDeployer, kube_api: KubeApiStandin, make_spec: Callable[..., ServiceSpec]) -> None:
    first = make_spec()
    knative.deploy(first)
    kube_api.before_next("PUT", SERVICES, lambda: kube_api.touch(SERVICES, NAMESPACE, first.name), times=None)

    with pytest.raises(ClusterConflict, match="kept changing") as caught:
        knative.deploy(make_spec(cpus=2.0))

    assert caught.value.status == 409
    assert [c.status for c in kube_api.writes() if c.method == "PUT"] == [409, 409, 409]
    assert kube_api.get(SERVICES, NAMESPACE, first.name)["spec"]["template"]["metadata"]["name"] == \
        revision_of(first)


def test_an_unreachable_api_is_a_clear_error(make_spec: Callable[..., ServiceSpec]) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    deployer = KnativeDeployer(ClusterSettings(namespace=NAMESPACE), api_url=url)
    for attempt in (lambda: deployer.deploy(make_spec()), lambda: deployer.status("m-x-v1"), deployer.services,
                    lambda: deployer.undeploy("m-x-v1"), lambda: deployer.infer("m-x-v1", b"{}", {})):
        with pytest.raises(ClusterUnavailable, match=f"the Kubernetes API at {url} is unavailable") as caught:
            attempt()
        assert caught.value.status == 503


def test_a_failed_service_write_leaves_no_policy_behind(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                        make_spec: Callable[..., ServiceSpec]) -> None:
    spec = make_spec()
    kube_api.fail_next("POST", SERVICES, status=500)

    with pytest.raises(ClusterUnavailable, match="HTTP 500"):
        knative.deploy(spec)

    assert writes(kube_api) == [("POST", POLICIES_PATH, 201), ("POST", SERVICES_PATH, 500),
                                ("DELETE", f"{POLICIES_PATH}/{policy_name(spec.name)}", 200)]
    assert kube_api.names(POLICIES, NAMESPACE) == [] and kube_api.names(SERVICES, NAMESPACE) == []


def test_an_invalid_image_template_is_refused_before_anything_is_written(
        kube_api: KubeApiStandin, make_spec: Callable[..., ServiceSpec]) -> None:
    deployer = KnativeDeployer(ClusterSettings(namespace=NAMESPACE, image="mcc/models:{digest}"),
                               api_url=kube_api.url)
    with pytest.raises(SpecError, match="image") as caught:
        deployer.deploy(make_spec())
    assert caught.value.field == "image"
    assert kube_api.journal == []


def test_undeploy_deletes_the_service_then_its_policy(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                      make_spec: Callable[..., ServiceSpec]) -> None:
    spec = make_spec()
    knative.deploy(spec)
    knative.deploy(make_spec(cpus=2.0))
    start = len(kube_api.writes())

    knative.undeploy(spec.name)

    assert writes(kube_api)[start:] == [("DELETE", f"{SERVICES_PATH}/{spec.name}", 200),
                                        ("DELETE", f"{POLICIES_PATH}/{policy_name(spec.name)}", 200)]
    assert kube_api.names(SERVICES, NAMESPACE) == kube_api.names(POLICIES, NAMESPACE) == []
    assert kube_api.names(REVISIONS, NAMESPACE) == []
    with pytest.raises(UnknownService):
        knative.undeploy(spec.name)
    with pytest.raises(UnknownService):
        knative.status(spec.name)


def test_services_lists_only_the_model_services_it_manages(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                           make_spec: Callable[..., ServiceSpec]) -> None:
    knative.deploy(make_spec("m-aaaaaaaaaaaaaaaaaaaa-v2", "2"))
    knative.deploy(make_spec("m-aaaaaaaaaaaaaaaaaaaa-v1"))
    other = model_service(make_spec("auth"), knative.settings)
    other["metadata"]["labels"] = {"app.kubernetes.io/name": "auth"}  # a platform function, not a model
    KnativeDeployer(knative.settings, api_url=kube_api.url).custom.create_namespaced_custom_object(
        "serving.knative.dev", "v1", NAMESPACE, "services", other)
    kube_api.ready(NAMESPACE, "m-aaaaaaaaaaaaaaaaaaaa-v1")

    listed = knative.services()

    assert [(s.name, s.state) for s in listed] == [("m-aaaaaaaaaaaaaaaaaaaa-v1", "ready"),
                                                   ("m-aaaaaaaaaaaaaaaaaaaa-v2", "starting")]
    assert listed[0].mechanism == "knative"


def test_a_failed_revision_is_reported_in_status_and_by_infer(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                              make_spec: Callable[..., ServiceSpec]) -> None:
    spec = make_spec()
    knative.deploy(spec)
    kube_api.fail_revision(NAMESPACE, spec.name, "Container failed with: the weights are missing")

    status = knative.status(spec.name)
    reply = knative.infer(spec.name, b"{}", {"Content-Type": "application/json"})

    assert status.state == "starting" and status.last_failure is not None
    assert "the weights are missing" in status.last_failure.detail
    assert reply.status == 502 and "the weights are missing" in reply.reason()


def ct_volume() -> Volume:
    """A small synthetic CT: air around a soft-tissue box."""
    array = np.full((4, 24, 24), -1000, dtype=np.int16)
    array[1:3, 6:18, 6:18] = 40
    return Volume(array, spacing=(2.0, 0.8, 0.8), modality="CT")


def test_infer_forwards_the_v2_request_to_the_service_address(
        knative: KnativeDeployer, kube_api: KubeApiStandin, make_spec: Callable[..., ServiceSpec],
        model_runtime: str) -> None:
    spec = make_spec()
    knative.deploy(spec)
    kube_api.ready(NAMESPACE, spec.name, address=model_runtime, url="http://unreachable.invalid")

    volume = ct_volume()
    body, headers = encode_request(volume)
    reply = knative.infer(spec.name, body, {**headers, "X-Request-Timeout": "30"})

    assert reply.status == 200, reply.body[:300]
    outputs = decode_response(reply.body, reply.headers)
    expected = load_template_application(CLASSICAL_TEMPLATE).run(volume)
    assert len(outputs) == 1 and isinstance(outputs[0], LabelVolume)
    np.testing.assert_array_equal(outputs[0].array, expected.array)
    assert outputs[0].array.any()


def test_infer_waits_until_a_new_service_is_ready(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                  make_spec: Callable[..., ServiceSpec], model_runtime: str) -> None:
    spec = make_spec()
    knative.deploy(spec)
    reads = threading.Event()

    def controller() -> None:  # Knative's controller: ready once the deployer has read the service twice
        while sum(1 for c in kube_api.journal if c.method == "GET") < 2:
            reads.wait(0.02)
        kube_api.ready(NAMESPACE, spec.name, address=model_runtime)

    thread = threading.Thread(target=controller, daemon=True)
    thread.start()
    body, headers = encode_request(ct_volume())
    reply = knative.infer(spec.name, body, headers)
    thread.join(timeout=5)

    assert reply.status == 200, reply.body[:300]
    assert sum(1 for c in kube_api.journal if c.method == "GET") >= 2


def test_infer_reports_an_unreachable_model_service(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                    make_spec: Callable[..., ServiceSpec]) -> None:
    spec = make_spec()
    knative.deploy(spec)
    kube_api.ready(NAMESPACE, spec.name, address=f"http://127.0.0.1:{free_port()}")

    reply = knative.infer(spec.name, b"{}", {"Content-Type": "application/json"})

    assert reply.status == 502 and spec.name in reply.reason()


def test_the_platform_chooses_the_knative_deployer_by_configuration(
        kube_api: KubeApiStandin, make_spec: Callable[..., ServiceSpec], monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.common.ai_models import services
    from functions.common.platform.config import reset_settings

    monkeypatch.setenv("MCC_MODEL_DEPLOYER", "knative")
    monkeypatch.setenv("MCC_KNATIVE_API_URL", kube_api.url)
    monkeypatch.setenv("MCC_KNATIVE_NAMESPACE", NAMESPACE)
    monkeypatch.setenv("MCC_KNATIVE_RUNTIME_CLASS", "gvisor")
    reset_settings()
    try:
        chosen = services.deployer()
        chosen.deploy(make_spec())
    finally:
        monkeypatch.undo()
        reset_settings()

    assert isinstance(chosen, KnativeDeployer)
    stored = kube_api.get(SERVICES, NAMESPACE, make_spec().name)
    assert stored["spec"]["template"]["spec"]["runtimeClassName"] == "gvisor"
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == f"mcc/models:{CLASSICAL_BUNDLE_NAME}"


def test_no_configured_api_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing-kubeconfig"))
    with pytest.raises(ClusterUnavailable, match="no in-cluster service account and no usable kubeconfig"):
        KnativeDeployer(ClusterSettings(namespace=NAMESPACE))


def _kubeconfig(path: Path, server: str, token: str) -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "standin",
        "clusters": [{"name": "standin", "cluster": {"server": server}}],
        "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "deployer"}}],
        "users": [{"name": "deployer", "user": {"token": token}}]}))
    return path


def test_the_token_of_the_kubeconfig_is_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             make_spec: Callable[..., ServiceSpec]) -> None:
    """kubernetes 36's loaders keep the token where its generated client does not look (send_loaded_token): against
    an API server that demands it, every call would be 401."""
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with KubeApiStandin(token="s3cret-token") as api:
        config = _kubeconfig(tmp_path / "kubeconfig", api.url, "s3cret-token")
        monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(config))
        KnativeDeployer(ClusterSettings(namespace=NAMESPACE)).deploy(make_spec())
        assert api.get(SERVICES, NAMESPACE, make_spec().name) is not None
        assert {call.status for call in api.journal} <= {200, 201, 404}

        _kubeconfig(config, api.url, "wrong-token")
        with pytest.raises(ClusterRefused) as refused:
            KnativeDeployer(ClusterSettings(namespace=NAMESPACE)).undeploy(make_spec().name)
        assert "401" in str(refused.value) or "Unauthorized" in str(refused.value)
        assert "wrong-token" not in str(refused.value)


def test_a_forbidden_request_is_refused_with_the_api_reason(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                            make_spec: Callable[..., ServiceSpec]) -> None:
    kube_api.fail_next("POST", POLICIES, status=403)
    with pytest.raises(ClusterRefused, match="HTTP 403") as caught:
        knative.deploy(make_spec())
    assert caught.value.api_status == 403
    assert kube_api.names(POLICIES, NAMESPACE) == kube_api.names(SERVICES, NAMESPACE) == []


def test_a_loosened_policy_is_put_back_on_the_next_deploy(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                          make_spec: Callable[..., ServiceSpec]) -> None:
    spec = make_spec()
    knative.deploy(spec)
    loosen = requests.patch(f"{kube_api.url}{POLICIES_PATH}/{policy_name(spec.name)}",
                            json={"spec": {"egress": [{}]}},  # someone allows every destination
                            headers={"Content-Type": "application/merge-patch+json"}, timeout=10)
    assert loosen.status_code == 200 and kube_api.get(POLICIES, NAMESPACE, policy_name(spec.name))["spec"]["egress"]

    knative.deploy(spec)

    assert writes(kube_api)[-1][0] == "PUT"
    assert kube_api.get(POLICIES, NAMESPACE, policy_name(spec.name))["spec"]["egress"] == []


def test_a_platform_service_of_the_same_name_is_never_touched(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                               make_spec: Callable[..., ServiceSpec]) -> None:
    function = model_service(make_spec("auth"), knative.settings)
    function["metadata"]["labels"] = {"app.kubernetes.io/name": "auth"}  # the platform's auth function
    knative.custom.create_namespaced_custom_object("serving.knative.dev", "v1", NAMESPACE, "services", function)
    before = kube_api.get(SERVICES, NAMESPACE, "auth")
    start = len(kube_api.writes())

    with pytest.raises(ServiceConflict):
        knative.deploy(make_spec("auth"))
    for attempt in (lambda: knative.undeploy("auth"), lambda: knative.status("auth"), lambda: knative.rollback("auth"),
                    lambda: knative.infer("auth", b"{}", {})):
        with pytest.raises(UnknownService):
            attempt()

    assert kube_api.get(SERVICES, NAMESPACE, "auth") == before
    assert kube_api.writes()[start:] == []
    assert kube_api.names(POLICIES, NAMESPACE) == []


def test_a_deleted_policy_is_written_again_on_the_next_deploy(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                              make_spec: Callable[..., ServiceSpec]) -> None:
    spec = make_spec()
    knative.deploy(spec)
    assert requests.delete(f"{kube_api.url}{POLICIES_PATH}/{policy_name(spec.name)}", timeout=10).status_code == 200
    start = len(kube_api.writes())

    knative.deploy(spec)

    assert writes(kube_api)[start:] == [("POST", POLICIES_PATH, 201)]
    assert as_sent(kube_api.get(POLICIES, NAMESPACE, policy_name(spec.name))) == \
        model_network_policy(spec, knative.settings)


def test_a_service_created_meanwhile_is_updated_not_duplicated(knative: KnativeDeployer, kube_api: KubeApiStandin,
                                                              make_spec: Callable[..., ServiceSpec]) -> None:
    first, second = make_spec(), make_spec(cpus=2.0)
    other_writer = model_service(first, knative.settings)  # e.g. the registry in another process, a moment earlier
    kube_api.before_next("POST", SERVICES, lambda: kube_api.create(SERVICES, NAMESPACE, other_writer))

    knative.deploy(second)

    service_writes = [(c.method, c.status, c.reason) for c in kube_api.writes() if "/services" in c.path]
    assert service_writes == [("POST", 409, "AlreadyExists"), ("PUT", 200, "")]
    assert [(e["revisionName"], e["percent"]) for e in traffic(kube_api, first.name)] == [
        (revision_of(first), 0), (revision_of(second), 100)]
