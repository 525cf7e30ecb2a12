"""`KnativeDeployer`: one Knative Service per model version, through the Kubernetes API (`serving.knative.dev/v1`).

Each service has a no-egress NetworkPolicy, written before the service and removed after it, so no model pod ever
runs without it. A changed spec under the same name is a new revision: traffic moves to it and the earlier
revisions stay in the traffic list at 0 % (routable by tag, never garbage-collected), so `activate` and `rollback`
move traffic back without rebuilding anything.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from .errors import DeployError, ServiceConflict, UnknownService
from .interfaces import TIMEOUT_HEADER, Failure, FailureKind, Reply, ServiceSpec, ServiceStatus, request_timeout
from .knative_errors import ClusterConflict, ClusterRefused, ClusterUnavailable, ImageUnavailable, NoEarlierRevision
from .knative_objects import (
    MANAGED_BY,
    SERVING,
    SPEC_ANNOTATION,
    ClusterSettings,
    condition,
    current_revision,
    managed,
    model_network_policy,
    model_service,
    not_ready_reason,
    policy_name,
    route_to,
    same_policy,
    serves,
)

__all__ = ["ClusterConflict", "ClusterRefused", "ClusterUnavailable", "ImageUnavailable", "KnativeDeployer",
           "NoEarlierRevision",
           "api_client", "api_message", "send_loaded_token"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
API_TIMEOUT = (5.0, 30.0)  # seconds to connect to, then to hear from, the Kubernetes API
CONFLICT_ATTEMPTS = 3  # re-reads after a 409 on a stale resourceVersion before giving up
DROPPED_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "date",
                   "server"}  # hop by hop, or no longer true of the body `requests` hands over
READY_POLL = 0.2  # seconds between reads while waiting for a new service's address


def api_client(api_url: str | None = None) -> k8s.ApiClient:
    """A client for `api_url` (no credentials: a proxy or a stand-in), else in-cluster, else the kubeconfig."""
    configuration = k8s.Configuration()
    if api_url:
        configuration.host = api_url.rstrip("/")
    else:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except k8s_config.ConfigException:
            try:
                k8s_config.load_kube_config(client_configuration=configuration)
            except (k8s_config.ConfigException, OSError) as e:
                raise ClusterUnavailable("(none configured)", "no in-cluster service account and no usable "
                                         "kubeconfig") from e
    configuration.retries = False  # an unreachable API fails at once; callers decide about retrying
    return k8s.ApiClient(send_loaded_token(configuration))


def send_loaded_token(configuration: k8s.Configuration) -> k8s.Configuration:
    """Make the client send the token its config loaders found. kubernetes 36's loaders (in-cluster service account,
    kubeconfig token or exec plugin) store it as api_key["authorization"] while the generated client only sends
    api_key["BearerToken"]: without this every call goes out anonymous (401/403 on a real cluster). The loaders'
    refresh hook (the service-account token rotates) is kept and its new token copied along."""
    loaded_hook = configuration.refresh_api_key_hook

    def refresh(config: k8s.Configuration) -> None:
        if loaded_hook is not None:
            loaded_hook(config)
        if config.api_key.get("authorization"):
            config.api_key["BearerToken"] = config.api_key["authorization"]

    refresh(configuration)
    configuration.refresh_api_key_hook = refresh
    return configuration


def api_message(error: ApiException) -> str:
    """What the API server said (its Status message), else the HTTP reason."""
    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except (ValueError, AttributeError):
        return str(error.reason)


class KnativeDeployer:
    """A `Deployer` keeping one Knative Service (and its NetworkPolicy) per model version in one namespace."""

    def __init__(self, settings: ClusterSettings | None = None, *, api_url: str | None = None,
                 client: k8s.ApiClient | None = None, address: str = "address") -> None:
        if address not in ("address", "url"):
            raise ValueError(f"address: {address!r} must be 'address' (cluster-local) or 'url' (status.url)")
        self.settings = settings or ClusterSettings()
        self.client = client or api_client(api_url)
        self.api_url = self.client.configuration.host
        self.address = address
        self.custom = k8s.CustomObjectsApi(self.client)
        self.networking = k8s.NetworkingV1Api(self.client)
        self.http = requests.Session()

    # The Deployer protocol

    def deploy(self, spec: ServiceSpec) -> None:
        """Create the version's policy and service, or move an existing service to this spec's revision (keeping
        the earlier ones); the same spec again changes nothing. With a runtime base configured, the version's image
        is made in the registry first when it is not there yet."""
        wanted = model_service(spec, self.settings)
        if self.settings.runtime_image:
            self._ensure_image(spec, self.settings.runtime_image)
        current = self._find(spec.name)
        created_policy = self._ensure_policy(spec)
        if current is not None and serves(current, wanted):
            return  # the same spec again
        try:
            self._write_service(spec.name, wanted, create=current is None)
        except BaseException:
            if created_policy and current is None:
                self._delete_quietly_policy(spec.name)
            raise

    def _ensure_image(self, spec: ServiceSpec, base: str) -> None:
        from model_builder.images import publish
        from model_builder.images.errors import ImageError

        image = self.settings.image_for(spec)
        try:
            if publish.exists(image):
                return
            with tempfile.TemporaryDirectory(prefix="mcc-image-") as work:
                pushed = publish.publish_version(spec.bundle_dir, base=base, target=image, work=Path(work),
                                                 version=spec.version)
        except ImageError as e:
            raise ImageUnavailable(image, str(e)) from e
        logger.info("model image %s made on %s (%d blobs uploaded)", pushed.reference, base, pushed.uploaded)

    def infer(self, name: str, body: bytes, headers: dict[str, str]) -> Reply:
        """POST the V2 request to the service's address (Knative's activator holds it while a pod starts)."""
        service = self._read(name)
        spec = json.loads(service["metadata"].get("annotations", {}).get(SPEC_ANNOTATION, "{}"))
        base, service = self._wait_for_address(name, service, float(spec.get("limits", {}).get("start_seconds", 120)))
        if base is None:
            detail = f"the model service {name!r} did not become ready: {not_ready_reason(service)}"
            return Reply.error(502, detail)
        timeout = request_timeout(headers) or float(spec.get("limits", {}).get("request_seconds", 600))
        forwarded = {k: v for k, v in headers.items() if k.lower() not in (TIMEOUT_HEADER.lower(), "host")}
        url = f"{base.rstrip('/')}/v2/models/{spec.get('model_name', name)}/versions/{spec.get('version', '1')}/infer"
        try:
            answer = self.http.post(url, data=body, headers=forwarded, timeout=(10, timeout))
        except requests.Timeout:
            return Reply.error(504, f"the model took longer than {timeout:g} s (its limit)")
        except requests.RequestException as e:
            return Reply.error(502, f"the model service {name!r} could not be reached ({type(e).__name__})")
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in DROPPED_HEADERS}
        return Reply(answer.status_code, kept, answer.content)

    def undeploy(self, name: str) -> None:
        """Delete the service (its revisions go with it), then its NetworkPolicy; never a service it did not make."""
        group, version, plural = SERVING
        self._read(name)
        try:
            self._call(self.custom.delete_namespaced_custom_object, group, version, self.settings.namespace,
                       plural, name)
        except ApiException as e:
            if e.status == 404:
                raise UnknownService(name) from e
            raise self._refused(e) from e
        self._delete_quietly_policy(name)
        logger.info("model service %s deleted", name)

    def status(self, name: str) -> ServiceStatus:
        """The service's state from its Ready condition (Knative does not report pod counts here: 0)."""
        return self._status(self._read(name))

    def services(self) -> list[ServiceStatus]:
        """Every model service this deployer manages in its namespace, by name."""
        group, version, plural = SERVING
        try:
            listed = self._call(self.custom.list_namespaced_custom_object, group, version, self.settings.namespace,
                                plural, label_selector=f"app.kubernetes.io/managed-by={MANAGED_BY}")
        except ApiException as e:
            raise self._refused(e) from e
        return sorted((self._status(item) for item in listed.get("items", [])), key=lambda s: s.name)

    # Revisions and traffic

    def revisions(self, name: str) -> list[dict[str, Any]]:
        """The traffic list (`revisionName`, `percent`, `tag`), in the order the revisions were deployed."""
        return list(self._read(name)["spec"].get("traffic", []))

    def activate(self, name: str, revision: str) -> None:
        """Send all traffic of `name` to one of its kept revisions; the others stay at 0 %."""

        def move(service: dict[str, Any]) -> list[dict[str, Any]]:
            traffic = service["spec"].get("traffic", [])
            if revision not in [entry.get("revisionName") for entry in traffic]:
                raise UnknownService(f"{name}/{revision}")
            return route_to(traffic, revision)

        self._move_traffic(name, move)

    def rollback(self, name: str) -> str:
        """Send all traffic to the revision deployed before the current one; its name."""
        chosen: list[str] = []

        def move(service: dict[str, Any]) -> list[dict[str, Any]]:
            traffic = service["spec"].get("traffic", [])
            current = next((i for i, entry in enumerate(traffic) if entry.get("percent") == 100), None)
            if not current:
                raise NoEarlierRevision(name)
            chosen[:] = [traffic[current - 1]["revisionName"]]
            return route_to(traffic, chosen[0])

        self._move_traffic(name, move)
        return chosen[0]

    # Inside

    def _call(self, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """One API call with our timeout; an unreachable API becomes `ClusterUnavailable`."""
        try:
            return method(*args, _request_timeout=API_TIMEOUT, **kwargs)
        except urllib3.exceptions.HTTPError as e:
            raise ClusterUnavailable(self.api_url, type(e).__name__) from e

    def _refused(self, error: ApiException) -> DeployError:
        if error.status is not None and error.status >= 500:
            return ClusterUnavailable(self.api_url, f"HTTP {error.status} {error.reason}")
        return ClusterRefused(int(error.status or 0), str(error.reason), api_message(error))

    def _read(self, name: str, *, any_owner: bool = False) -> dict[str, Any]:
        """A model service this deployer manages; another Knative Service of the same name (a platform function
        shares the namespace) is not one of them: UnknownService, unless `any_owner`."""
        group, version, plural = SERVING
        try:
            service = self._call(self.custom.get_namespaced_custom_object, group, version, self.settings.namespace,
                                 plural, name)
        except ApiException as e:
            if e.status == 404:
                raise UnknownService(name) from e
            raise self._refused(e) from e
        if not any_owner and not managed(service):
            raise UnknownService(name)
        return service

    def _find(self, name: str) -> dict[str, Any] | None:
        """The model service of that name, None if there is none; a service of that name not made by this deployer
        (a platform function shares the namespace) is a conflict, never overwritten."""
        try:
            current = self._read(name, any_owner=True)
        except UnknownService:
            return None
        if not managed(current):
            raise ServiceConflict(name)
        return current

    def _ensure_policy(self, spec: ServiceSpec) -> bool:
        """Create the no-egress policy (True), or leave the existing one, put back to ours if it was changed."""
        body = model_network_policy(spec, self.settings)
        namespace = self.settings.namespace
        try:
            self._call(self.networking.read_namespaced_network_policy, body["metadata"]["name"], namespace)
        except ApiException as e:
            if e.status != 404:
                raise self._refused(e) from e
            try:
                self._call(self.networking.create_namespaced_network_policy, namespace, body)
                return True
            except ApiException as e:
                if e.status != 409:  # 409: another writer made it meanwhile; check it below
                    raise self._refused(e) from e
        try:
            existing = self._call(self.networking.read_namespaced_network_policy, body["metadata"]["name"],
                                  namespace)
            if (existing.metadata.labels or {}).get("app.kubernetes.io/managed-by") != MANAGED_BY:
                raise ServiceConflict(spec.name)  # a policy of that name that is not ours: leave it alone
            if not same_policy(self.client.sanitize_for_serialization(existing.spec), body["spec"]):
                body["metadata"]["resourceVersion"] = existing.metadata.resource_version
                self._call(self.networking.replace_namespaced_network_policy, body["metadata"]["name"], namespace,
                           body)
        except ApiException as e:
            raise self._refused(e) from e
        return False

    def _delete_quietly_policy(self, name: str) -> None:
        """Remove a service's policy; one already gone is fine, one left behind is logged (it only denies)."""
        try:
            self._call(self.networking.delete_namespaced_network_policy, policy_name(name), self.settings.namespace)
        except ApiException as e:
            if e.status != 404:
                logger.warning("the network policy of %s was left behind (HTTP %s)", name, e.status)
        except ClusterUnavailable:
            logger.warning("the network policy of %s was left behind (API unavailable)", name)

    def _write_service(self, name: str, wanted: dict[str, Any], *, create: bool) -> None:
        """Create the service, or replace its template and move traffic to the new revision; retried on 409."""
        group, version, plural = SERVING
        namespace = self.settings.namespace
        if create:
            try:
                self._call(self.custom.create_namespaced_custom_object, group, version, namespace, plural, wanted)
                logger.info("model service %s created (scaled to zero)", name)
                return
            except ApiException as e:
                if e.status != 409:  # 409: another writer made it meanwhile; update it below
                    raise self._refused(e) from e
        revision = wanted["spec"]["template"]["metadata"]["name"]
        for _attempt in range(CONFLICT_ATTEMPTS):
            current = self._find(name)
            if current is None:
                raise UnknownService(name)  # deleted meanwhile
            if serves(current, wanted):
                return
            traffic = current["spec"].get("traffic", [])
            kept = [entry for entry in traffic if entry.get("revisionName") not in (None, revision)]
            body = {**wanted, "metadata": {**wanted["metadata"], "resourceVersion":
                                           current["metadata"]["resourceVersion"]}}
            body["spec"] = {**wanted["spec"], "traffic": route_to([*kept, {"revisionName": revision}], revision)}
            try:
                self._call(self.custom.replace_namespaced_custom_object, group, version, namespace, plural, name,
                           body)
                logger.info("model service %s moved to revision %s", name, revision)
                return
            except ApiException as e:
                if e.status != 409:
                    raise self._refused(e) from e
        raise ClusterConflict(name, f"{CONFLICT_ATTEMPTS} attempts met a newer resourceVersion")

    def _move_traffic(self, name: str, move: Callable[[dict[str, Any]], list[dict[str, Any]]]) -> None:
        """Merge-patch `spec.traffic` to what `move` makes of the current service, retried on a stale read."""
        group, version, plural = SERVING
        for _attempt in range(CONFLICT_ATTEMPTS):
            service = self._read(name)
            traffic = move(service)
            patch = {"metadata": {"resourceVersion": service["metadata"]["resourceVersion"]},
                     "spec": {"traffic": traffic}}
            try:
                self._call(self.custom.patch_namespaced_custom_object, group, version, self.settings.namespace,
                           plural, name, patch)
                logger.info("model service %s: traffic moved to %s", name, current_revision(traffic))
                return
            except ApiException as e:
                if e.status != 409:
                    raise self._refused(e) from e
        raise ClusterConflict(name, f"{CONFLICT_ATTEMPTS} attempts met a newer resourceVersion")

    def _wait_for_address(self, name: str, service: dict[str, Any],
                          seconds: float) -> tuple[str | None, dict[str, Any]]:
        """The service's address once Knative has set it (a new service gets one when its revision is ready), or
        None when its revision failed or `seconds` passed; with the service as last read."""
        deadline = time.monotonic() + seconds
        while True:
            status = service.get("status", {})
            url = status.get("address", {}).get("url") if self.address == "address" else status.get("url")
            if url and status.get("latestReadyRevisionName"):
                return str(url), service
            if condition(service, "Ready").get("status") == "False" or time.monotonic() >= deadline:
                return None, service
            time.sleep(READY_POLL)
            service = self._read(name)

    def _status(self, service: dict[str, Any]) -> ServiceStatus:
        ready = condition(service, "Ready")
        failure = None
        if ready.get("status") == "True":
            state = "ready"
        else:
            state = "starting"
            if ready.get("status") == "False":
                failure = Failure(FailureKind.START, 502, not_ready_reason(service), time.time())
        mechanism = self.settings.runtime_class or "knative"
        return ServiceStatus(service["metadata"]["name"], state, 0, 0, 0, mechanism, failure)
