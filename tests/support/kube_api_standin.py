"""Local stand-in for the Kubernetes API server, used only by tests (there is no cluster on these machines).

A real HTTP server on loopback that keeps objects in memory and answers the REST paths, status codes and
`Status` bodies of the API server for Knative Services (`/apis/serving.knative.dev/v1/namespaces/{ns}/services`),
their Revisions (read-only, made by the stand-in as Knative's controller would) and NetworkPolicies
(`/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies`): GET, LIST (with `labelSelector` equalities),
POST (201; 409 AlreadyExists), PUT (resourceVersion required; 409 Conflict when stale), PATCH
(`application/merge-patch+json`, RFC 7386; 409 Conflict on a stale `metadata.resourceVersion`), DELETE, 404
NotFound, 422 Invalid for objects their schema refuses (Knative's CRD `openAPIV3Schema`, Kubernetes' own schemas
through `kubernetes-validate`, unknown fields refused as strict field validation does), 400 for what Knative's
admission webhook denies (`knative_admission_errors`). Every write bumps `resourceVersion`; a spec change bumps `generation` and, for a
Knative Service whose template changed, creates a Revision. A service is "ready" only when a test says so
(`ready()`), which sets `status.url`, `status.address.url`, `latestReadyRevisionName` and the Ready condition.

Tests see what a client did through `journal` (method, path, content type, body) and may make the next requests
fail (`fail_next`) or change an object between a client's read and its write (`before_next`).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml
from mcc_local.serving import ThreadedWsgiServer
from werkzeug.wrappers import Request, Response

REFERENCE = Path(__file__).resolve().parents[1] / "reference" / "knative-serving"
KUBERNETES_VERSION = "1.37.0"
PATH = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/namespaces/(?P<ns>[a-z0-9-]+)/(?P<plural>[a-z]+)"
                  r"(?:/(?P<name>[^/]+))?$")


@dataclass(frozen=True)
class Kind:
    """A resource the stand-in serves."""

    group: str
    version: str
    plural: str
    kind: str
    writable: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def resource(self) -> str:
        return f"{self.plural}.{self.group}"


SERVICES = Kind("serving.knative.dev", "v1", "services", "Service")
REVISIONS = Kind("serving.knative.dev", "v1", "revisions", "Revision", writable=False)
POLICIES = Kind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy")
KINDS = {(k.group, k.version, k.plural): k for k in (SERVICES, REVISIONS, POLICIES)}


@functools.cache
def knative_service_schema() -> dict[str, Any]:
    """The `openAPIV3Schema` of Knative Serving's `Service` CRD (tests/reference/knative-serving/service.yaml)."""
    crd = yaml.safe_load((REFERENCE / "service.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return version["schema"]["openAPIV3Schema"]


def schema_errors(obj: dict[str, Any]) -> list[str]:
    """Why the API server would refuse `obj` by schema: Knative Services by their CRD, the rest by Kubernetes'
    own schemas (strict: unknown fields are errors). Empty when valid."""
    if obj.get("apiVersion") == SERVICES.api_version and obj.get("kind") == SERVICES.kind:
        validator = jsonschema.Draft7Validator(knative_service_schema())
        errors = [f"{'.'.join(str(p) for p in e.absolute_path) or '$'}: {e.message}" for e in validator.iter_errors(obj)]
        return errors + [f"{path}: unknown field" for path in unknown_fields(obj, knative_service_schema())]
    try:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        return [f"{'.'.join(str(p) for p in e.path) or '$'}: {e.message}"]
    return []


def unknown_fields(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Fields a structural schema does not declare (the API server's strict field validation, as `kubectl apply
    --validate=strict` asks: without it they would be pruned silently)."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    found = []
    if isinstance(value, dict) and "properties" in schema:
        for key, item in value.items():
            if key not in schema["properties"]:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(item, schema["properties"][key], f"{path}.{key}")
    elif isinstance(value, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, item in value.items():
            found += unknown_fields(item, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            found += unknown_fields(item, schema["items"], f"{path}[{index}]")
    return found


RESERVED_MOUNT_PATHS = {"/", "/dev", "/dev/log"}
RESERVED_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
RESERVED_PORTS = {8012, 8013, 8022, 9090, 9091, 8008}


def knative_admission_errors(service: dict[str, Any]) -> list[str]:
    """What Knative's validating webhook refuses beyond the CRD schema (pkg/apis/serving/k8s_validation.go,
    the rules these manifests could break): one serving port named http1/h2c and not reserved, probes on that
    port with sane thresholds, no reserved variable or mount path, writable mounts only on emptyDir, a revision
    name prefixed by the service's, a DNS-label service name."""
    errors = []
    name = service["metadata"].get("name", "")
    if not re.fullmatch(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?", name):
        errors.append(f"metadata.name: {name!r} is not a DNS label starting with a letter")
    template = service.get("spec", {}).get("template", {})
    revision = (template.get("metadata") or {}).get("name")
    if revision is not None and not revision.startswith(f"{name}-"):
        errors.append(f"spec.template.metadata.name: {revision!r} must start with {name}-")
    pod = template.get("spec", {})
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    mounted = set()
    for i, container in enumerate(pod.get("containers", [])):
        at = f"spec.template.spec.containers[{i}]"
        ports = container.get("ports", [])
        if len(ports) > 1:
            errors.append(f"{at}.ports: more than one container port is set")
        for port in ports[:1]:
            if port.get("name", "") not in ("", "http1", "h2c") or port.get("containerPort") in RESERVED_PORTS:
                errors.append(f"{at}.ports[0]: name must be empty, http1 or h2c, and the port not reserved")
        for probe_name in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = container.get(probe_name)
            if probe and probe.get("periodSeconds", 0) > 0 and probe_name == "readinessProbe" and (
                    probe.get("timeoutSeconds", 0) < 1 or probe.get("failureThreshold", 0) < 1
                    or probe.get("successThreshold", 0) < 1):
                errors.append(f"{at}.{probe_name}: timeoutSeconds, failureThreshold and successThreshold must "
                              "be at least 1 when periodSeconds is set")
            handler = (probe or {}).get("httpGet") or (probe or {}).get("tcpSocket") or {}
            if isinstance(handler.get("port"), str) and ports and handler["port"] != ports[0].get("name"):
                errors.append(f"{at}.{probe_name}: probe port must match container port")
        errors += [f"{at}.env: {e['name']!r} is a reserved environment variable"
                   for e in container.get("env", []) if e.get("name") in RESERVED_ENV]
        for mount in container.get("volumeMounts", []):
            mounted.add(mount["name"])
            path = mount["mountPath"].rstrip("/") or "/"
            if path in RESERVED_MOUNT_PATHS:
                errors.append(f"{at}.volumeMounts: mountPath {path!r} is a reserved path")
            volume = volumes.get(mount["name"])
            if volume is None:
                errors.append(f"{at}.volumeMounts: {mount['name']!r} has no matching volume")
            elif "emptyDir" not in volume and not mount.get("readOnly"):
                errors.append(f"{at}.volumeMounts: volume mount should be readOnly for this type of volume")
    errors += [f"spec.template.spec.volumes: volume with name {v!r} not mounted" for v in sorted(set(volumes) - mounted)]
    return errors


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: maps merge key by key, null removes, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class Call:
    """One request the stand-in answered."""

    method: str
    path: str
    content_type: str | None
    body: Any
    status: int = 0
    reason: str = ""  # the reason of a Status answer (AlreadyExists, Conflict, NotFound, …)


@dataclass
class _Hook:
    method: str
    plural: str
    times: int | None  # None: every matching request
    action: Callable[[], None] | None = None
    status: int = 0

    def matches(self, method: str, plural: str) -> bool:
        return self.method == method and self.plural == plural and (self.times is None or self.times > 0)


@dataclass
class _Store:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)  # (plural, ns, name) → object
    versions: itertools.count = field(default_factory=lambda: itertools.count(1000))


def _status(code: int, reason: str, message: str, kind: Kind | None = None, name: str | None = None) -> Response:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Success" if code < 400 else "Failure", "message": message, "reason": reason,
                            "code": code}
    if kind is not None:
        body["details"] = {"name": name, "group": kind.group, "kind": kind.plural}
    return Response(json.dumps(body), status=code, content_type="application/json")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class KubeApiStandin(ThreadedWsgiServer):
    """The stand-in API server: `url` for the kubernetes client's `host`, the objects in memory."""

    def __init__(self, *, token: str | None = None) -> None:
        """`token`: the bearer token every request must carry (401 otherwise, as the API server answers)."""
        super().__init__(self._wsgi, name="kube-api-standin", poll_interval=0.05)
        self.token = token
        self._lock = threading.RLock()
        self._store = _Store()
        self._hooks: list[_Hook] = []
        self.journal: list[Call] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # What tests use

    def get(self, kind: Kind, namespace: str, name: str) -> dict[str, Any] | None:
        """A copy of a stored object, or None."""
        with self._lock:
            found = self._store.objects.get((kind.plural, namespace, name))
            return copy.deepcopy(found) if found else None

    def names(self, kind: Kind, namespace: str) -> list[str]:
        """The names of the stored objects of one kind in a namespace."""
        with self._lock:
            return sorted(n for p, ns, n in self._store.objects if p == kind.plural and ns == namespace)

    def writes(self) -> list[Call]:
        """Every request but reads, in order."""
        return [call for call in self.journal if call.method not in ("GET",)]

    def fail_next(self, method: str, kind: Kind, status: int = 500, times: int | None = 1) -> None:
        """Answer the next `times` matching requests with `status` (an InternalError Status), changing nothing."""
        with self._lock:
            self._hooks.append(_Hook(method, kind.plural, times, status=status))

    def before_next(self, method: str, kind: Kind, action: Callable[[], None], times: int | None = 1) -> None:
        """Run `action` (e.g. `touch`: another writer) just before the next `times` matching requests."""
        with self._lock:
            self._hooks.append(_Hook(method, kind.plural, times, action=action))

    def create(self, kind: Kind, namespace: str, obj: dict[str, Any]) -> None:
        """Another writer creates an object (as a POST would, validation included)."""
        with self._lock:
            response = self._create(kind, namespace, copy.deepcopy(obj))
            if response.status_code != 201:
                raise AssertionError(f"the stand-in refused the object: {response.get_data(as_text=True)}")

    def touch(self, kind: Kind, namespace: str, name: str) -> None:
        """Another writer changes the object (an annotation), so a client's resourceVersion is stale."""
        with self._lock:
            obj = self._store.objects[(kind.plural, namespace, name)]
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations["standin/touched"] = str(int(annotations.get("standin/touched", "0")) + 1)
            obj["metadata"]["resourceVersion"] = str(next(self._store.versions))

    def ready(self, namespace: str, name: str, *, url: str | None = None, address: str | None = None) -> None:
        """Knative's controller: the latest revision of a service is ready and the route serves it."""
        with self._lock:
            service = self._store.objects[(SERVICES.plural, namespace, name)]
            status = service["status"]
            status["latestReadyRevisionName"] = status["latestCreatedRevisionName"]
            status["url"] = url or f"http://{name}.{namespace}.example.com"
            status["address"] = {"url": address or f"http://{name}.{namespace}.svc.cluster.local"}
            status["conditions"] = [{"type": t, "status": "True", "lastTransitionTime": _now()}
                                    for t in ("ConfigurationsReady", "Ready", "RoutesReady")]
            self._route_status(service)
            service["metadata"]["resourceVersion"] = str(next(self._store.versions))

    def fail_revision(self, namespace: str, name: str, message: str) -> None:
        """Knative's controller: the latest revision of a service failed (Ready False with `message`)."""
        with self._lock:
            service = self._store.objects[(SERVICES.plural, namespace, name)]
            service["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "RevisionFailed",
                                                "message": message, "lastTransitionTime": _now()}]
            service["metadata"]["resourceVersion"] = str(next(self._store.versions))

    # The API

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        match = PATH.match(request.path)
        body = request.get_data()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode(errors="replace")
        call = Call(request.method, request.full_path.rstrip("?"), request.mimetype or None, parsed)
        with self._lock:
            self.journal.append(call)
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if self.token and (scheme.lower() != "bearer" or token != self.token):
                response = _status(401, "Unauthorized", "Unauthorized")
            else:
                response = self._answer(request, match, parsed)
            call.status = response.status_code
            answer = json.loads(response.get_data())
            call.reason = answer.get("reason", "") if answer.get("kind") == "Status" else ""
        return response

    def _answer(self, request: Request, match: re.Match[str] | None, body: Any) -> Response:
        kind = KINDS.get((match["group"], match["version"], match["plural"])) if match else None
        if match is None or kind is None:
            return _status(404, "NotFound", "the server could not find the requested resource")
        for hook in self._hooks:
            if hook.matches(request.method, kind.plural):
                if hook.times is not None:
                    hook.times -= 1
                if hook.status:
                    return _status(hook.status, "InternalError", "an error on the server (stand-in fault)")
                if hook.action:
                    hook.action()
        ns, name = match["ns"], match["name"]
        if name is None:
            if request.method == "GET":
                return self._list(kind, ns, request.args.get("labelSelector", ""))
            if request.method == "POST" and kind.writable:
                return self._create(kind, ns, body)
        else:
            if request.method == "GET":
                found = self._store.objects.get((kind.plural, ns, name))
                if found is None:
                    return _status(404, "NotFound", f'{kind.resource} "{name}" not found', kind, name)
                return Response(json.dumps(found), content_type="application/json")
            if request.method in ("PUT", "PATCH", "DELETE") and kind.writable:
                return getattr(self, f"_{request.method.lower()}")(kind, ns, name, request, body)
        return _status(405, "MethodNotAllowed", f"the server does not allow this method on {kind.resource}")

    def _list(self, kind: Kind, ns: str, selector: str) -> Response:
        wanted = dict(term.split("=", 1) for term in selector.split(",") if "=" in term)
        items = [obj for (plural, space, _), obj in sorted(self._store.objects.items())
                 if plural == kind.plural and space == ns
                 and all(obj["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]
        listing = {"apiVersion": kind.api_version, "kind": f"{kind.kind}List", "items": items,
                   "metadata": {"resourceVersion": str(next(self._store.versions))}}
        return Response(json.dumps(listing), content_type="application/json")

    def _refusal(self, kind: Kind, ns: str, name: str | None, obj: Any) -> Response | None:
        """400/422 for a body the API server would refuse before storing anything."""
        if not isinstance(obj, dict):
            return _status(400, "BadRequest", "the request body is not a JSON object")
        if obj.get("apiVersion") != kind.api_version or obj.get("kind") != kind.kind:
            return _status(400, "BadRequest", f"the body is not a {kind.api_version} {kind.kind}")
        meta = obj.get("metadata") or {}
        if not meta.get("name") or (name is not None and meta["name"] != name):
            return _status(400, "BadRequest", "metadata.name is missing or does not match the URL", kind, name)
        if meta.get("namespace", ns) != ns:
            return _status(400, "BadRequest", "the namespace of the provided object does not match the URL")
        errors = schema_errors(obj)
        if errors:
            return _status(422, "Invalid", f'{kind.kind} "{meta["name"]}" is invalid: {"; ".join(errors[:3])}',
                           kind, meta["name"])
        denied = knative_admission_errors(obj) if kind is SERVICES else []
        if denied:
            return _status(400, "BadRequest", 'admission webhook "validation.webhook.serving.knative.dev" denied '
                                              f'the request: {"; ".join(denied[:3])}', kind, meta["name"])
        return None

    def _create(self, kind: Kind, ns: str, obj: Any) -> Response:
        refused = self._refusal(kind, ns, None, obj)
        if refused:
            return refused
        name = obj["metadata"]["name"]
        if (kind.plural, ns, name) in self._store.objects:
            return _status(409, "AlreadyExists", f'{kind.resource} "{name}" already exists', kind, name)
        stored = copy.deepcopy(obj)
        stored.pop("status", None)
        stored["metadata"].update(namespace=ns, uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1,
                                  resourceVersion=str(next(self._store.versions)))
        if kind is SERVICES:
            stored["status"] = {"observedGeneration": 1,
                                "conditions": [{"type": "Ready", "status": "Unknown", "lastTransitionTime": _now()}]}
            self._revision(stored)
        self._store.objects[(kind.plural, ns, name)] = stored
        return Response(json.dumps(stored), status=201, content_type="application/json")

    def _put(self, kind: Kind, ns: str, name: str, request: Request, obj: Any) -> Response:
        current = self._store.objects.get((kind.plural, ns, name))
        if current is None:
            return _status(404, "NotFound", f'{kind.resource} "{name}" not found', kind, name)
        refused = self._refusal(kind, ns, name, obj)
        if refused:
            return refused
        version = obj["metadata"].get("resourceVersion")
        if not version:
            return _status(422, "Invalid", f'{kind.kind} "{name}" is invalid: metadata.resourceVersion: Invalid '
                                           "value: 0x0: must be specified for an update", kind, name)
        return self._store_update(kind, current, obj, version)

    def _patch(self, kind: Kind, ns: str, name: str, request: Request, patch: Any) -> Response:
        current = self._store.objects.get((kind.plural, ns, name))
        if current is None:
            return _status(404, "NotFound", f'{kind.resource} "{name}" not found', kind, name)
        if request.mimetype != "application/merge-patch+json":
            return _status(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                                                        "accepted media types: application/merge-patch+json")
        if not isinstance(patch, dict):
            return _status(400, "BadRequest", "a merge patch must be a JSON object")
        version = (patch.get("metadata") or {}).get("resourceVersion")
        merged = merge_patch(current, patch)
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        refused = self._refusal(kind, ns, name, merged)
        if refused:
            return refused
        return self._store_update(kind, current, merged, version or current["metadata"]["resourceVersion"])

    def _store_update(self, kind: Kind, current: dict[str, Any], obj: dict[str, Any], version: str) -> Response:
        name = current["metadata"]["name"]
        if version != current["metadata"]["resourceVersion"]:
            return _status(409, "Conflict", f'Operation cannot be fulfilled on {kind.resource} "{name}": the object '
                                            "has been modified; please apply your changes to the latest version and "
                                            "try again", kind, name)
        updated = copy.deepcopy(obj)
        updated["status"] = current.get("status")
        if updated["status"] is None:
            updated.pop("status")
        server_owned = ("namespace", "uid", "creationTimestamp", "generation", "resourceVersion")
        updated["metadata"].update({k: current["metadata"][k] for k in server_owned})
        if updated == current:
            return Response(json.dumps(current), content_type="application/json")  # a no-op changes no version
        if updated.get("spec") != current.get("spec"):
            updated["metadata"]["generation"] = current["metadata"]["generation"] + 1
        updated["metadata"]["resourceVersion"] = str(next(self._store.versions))
        if kind is SERVICES:
            updated["status"]["observedGeneration"] = updated["metadata"]["generation"]
            if updated["spec"].get("template") != current["spec"].get("template"):
                self._revision(updated)
            self._route_status(updated)
        self._store.objects[(kind.plural, current["metadata"]["namespace"], name)] = updated
        return Response(json.dumps(updated), content_type="application/json")

    def _delete(self, kind: Kind, ns: str, name: str, request: Request, body: Any) -> Response:
        if self._store.objects.pop((kind.plural, ns, name), None) is None:
            return _status(404, "NotFound", f'{kind.resource} "{name}" not found', kind, name)
        if kind is SERVICES:  # the revisions are owned by the service: garbage-collected with it
            for key in [k for k, obj in self._store.objects.items() if k[0] == REVISIONS.plural and k[1] == ns
                        and obj["metadata"]["labels"].get("serving.knative.dev/service") == name]:
                del self._store.objects[key]
        return _status(200, "", f'{kind.resource} "{name}" deleted', kind, name)

    # Knative's controller, in miniature

    def _revision(self, service: dict[str, Any]) -> None:
        """A Revision for the service's current template (named by the template, else `<service>-0000n`)."""
        meta = service["metadata"]
        template = service["spec"]["template"]
        name = (template.get("metadata") or {}).get("name") or f"{meta['name']}-{meta['generation']:05d}"
        key = (REVISIONS.plural, meta["namespace"], name)
        if key not in self._store.objects:
            labels = {**(template.get("metadata") or {}).get("labels", {}),
                      "serving.knative.dev/service": meta["name"], "serving.knative.dev/configuration": meta["name"]}
            self._store.objects[key] = {
                "apiVersion": REVISIONS.api_version, "kind": REVISIONS.kind,
                "metadata": {"name": name, "namespace": meta["namespace"], "labels": labels, "generation": 1,
                             "resourceVersion": str(next(self._store.versions)), "creationTimestamp": _now()},
                "spec": copy.deepcopy(template.get("spec", {}))}
        service["status"]["latestCreatedRevisionName"] = name
        if service["status"].get("latestReadyRevisionName") != name:
            service["status"]["conditions"] = [{"type": "Ready", "status": "Unknown", "lastTransitionTime": _now()}]

    def _route_status(self, service: dict[str, Any]) -> None:
        """status.traffic: the spec's targets, `latestRevision` ones resolved to the latest ready revision."""
        ready = service["status"].get("latestReadyRevisionName")
        resolved = []
        for target in service["spec"].get("traffic") or [{"latestRevision": True, "percent": 100}]:
            entry = {k: v for k, v in target.items() if k != "latestRevision"}
            if target.get("latestRevision"):
                if ready is None:
                    continue
                entry.update(revisionName=ready, latestRevision=True)
            resolved.append(entry)
        service["status"]["traffic"] = resolved
