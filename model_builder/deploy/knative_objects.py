"""The Kubernetes objects of one model version: its Knative Service and its no-egress NetworkPolicy.

The one template for model services: the `knative` deployer sends these objects and the manifest tests validate
them. The limits are the local sandbox's (`Limits`): memory, CPU and /tmp map to requests, limits and a
memory-backed emptyDir, the wall clocks to the revision's timeout and a startup probe; the process limit is the
node's (kubelet `podPidsLimit`, set on the GKE node pool).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from .errors import SpecError
from .interfaces import GiB, MiB, ServiceSpec

SERVING = ("serving.knative.dev", "v1", "services")
MANAGED_BY = "mcc-model-deployer"  # app.kubernetes.io/managed-by of everything the deployer writes
ROLE_LABEL = "medcloudcare.io/role"
MODEL_ROLE = "model"
SPEC_ANNOTATION = "medcloudcare.io/spec"  # the ServiceSpec the service was made from (model name, version, limits)
PORT = 8080  # Knative's default serving port; the runtime binds it on all addresses
RUNTIME_USER = 65532  # the model image's non-root user (distroless' "nonroot")
BUNDLE_IN_IMAGE = "/opt/mcc/bundle"  # where the model-version image holds the bundle (model_builder/images)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")
STARTUP_PERIOD = 2  # seconds between startup probes


@dataclass(frozen=True)
class ClusterSettings:
    """Where and how model services run in the cluster (one per platform, from configuration)."""

    namespace: str = "mcc"
    image: str = "mcc/models:{bundle}"  # {bundle} (the bundle's digest), {name}, {model}, {version} are filled in
    runtime_class: str | None = None  # "gvisor" on GKE Sandbox node pools
    # The model runtime base in the registry (registry/name:tag): when set, a version's image missing from the
    # registry is made on deploy as that base + the bundle layer (model_builder/images/publish.py).
    runtime_image: str | None = None
    concurrency: int = 1  # requests one instance serves at once: one inference at a time, as locally

    def image_for(self, spec: ServiceSpec) -> str:
        """The model-version image of `spec` (runtime base + bundle layer), from the configured template."""
        try:
            return self.image.format(bundle=spec.bundle_dir.name, name=spec.name, model=spec.model_name,
                                     version=spec.version)
        except (KeyError, IndexError, ValueError) as e:
            raise SpecError("image", f"{self.image!r} is not a valid image template ({e}); use the placeholders "
                                     "{bundle}, {name}, {model} and {version}") from e


def quantity_bytes(value: int) -> str:
    """A Kubernetes quantity for a byte count: `4Gi`, `512Mi`, or plain bytes."""
    for unit, size in (("Gi", GiB), ("Mi", MiB), ("Ki", 1024)):
        if value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def quantity_cpus(cpus: float) -> str:
    """A Kubernetes CPU quantity: `1`, `2`, or millicores (`500m`)."""
    millis = max(1, round(cpus * 1000))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def labels(spec: ServiceSpec) -> dict[str, str]:
    """The labels of a model service and its pods: what the NetworkPolicy and `services()` select on."""
    return {"app.kubernetes.io/name": "model-service", "app.kubernetes.io/instance": spec.name,
            "app.kubernetes.io/part-of": "medcloudcare", "app.kubernetes.io/managed-by": MANAGED_BY,
            ROLE_LABEL: MODEL_ROLE}


def _container(spec: ServiceSpec, image: str) -> dict[str, Any]:
    limits = spec.limits
    cpus = str(max(1, math.floor(limits.cpus)))
    resources = {"cpu": quantity_cpus(limits.cpus), "memory": quantity_bytes(limits.memory_bytes)}
    return {
        "name": "model",
        "image": image,
        "args": ["--bundle", BUNDLE_IN_IMAGE, "--port", str(PORT), "--host", "0.0.0.0",  # noqa: S104 - in its pod
                 "--name", spec.model_name, "--version", spec.version],
        "ports": [{"name": "http1", "containerPort": PORT}],
        "env": [{"name": "HOME", "value": "/tmp"}, {"name": "TMPDIR", "value": "/tmp"},
                *({"name": name, "value": cpus} for name in THREAD_VARIABLES)],
        "resources": {"requests": dict(resources), "limits": dict(resources)},
        "readinessProbe": {"httpGet": {"path": "/v2/health/ready"}, "periodSeconds": 5, "timeoutSeconds": 2,
                           "successThreshold": 1, "failureThreshold": 3},
        "livenessProbe": {"httpGet": {"path": "/v2/health/live"}, "periodSeconds": 10, "timeoutSeconds": 2,
                          "failureThreshold": 3},
        "startupProbe": {"httpGet": {"path": "/v2/health/ready"}, "periodSeconds": STARTUP_PERIOD,
                         "timeoutSeconds": STARTUP_PERIOD,
                         "failureThreshold": max(1, math.ceil(limits.start_seconds / STARTUP_PERIOD))},
        "securityContext": {"runAsNonRoot": True, "runAsUser": RUNTIME_USER, "runAsGroup": RUNTIME_USER,
                            "allowPrivilegeEscalation": False, "privileged": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _pod_spec(spec: ServiceSpec, settings: ClusterSettings) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "containerConcurrency": settings.concurrency,
        "timeoutSeconds": math.ceil(spec.limits.request_seconds),
        "automountServiceAccountToken": False,  # model code gets no credential to the cluster
        "enableServiceLinks": False,  # nor the addresses of the namespace's other services
        "containers": [_container(spec, settings.image_for(spec))],
        "volumes": [{"name": "tmp", "emptyDir": {"medium": "Memory",
                                                 "sizeLimit": quantity_bytes(spec.limits.tmpfs_bytes)}}],
    }
    if settings.runtime_class:
        pod["runtimeClassName"] = settings.runtime_class
    return pod


def _template(spec: ServiceSpec, settings: ClusterSettings) -> dict[str, Any]:
    annotations = {
        "autoscaling.knative.dev/min-scale": "0",  # scale to zero: nothing runs until a request comes
        "autoscaling.knative.dev/max-scale": str(spec.max_instances),
        "autoscaling.knative.dev/target": str(settings.concurrency),
        "autoscaling.knative.dev/scale-to-zero-pod-retention-period": f"{math.ceil(spec.idle_seconds)}s",
        "serving.knative.dev/progress-deadline": f"{math.ceil(spec.limits.start_seconds) + 60}s",
    }
    template = {"metadata": {"labels": labels(spec), "annotations": annotations},
                "spec": _pod_spec(spec, settings)}
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    template["metadata"]["name"] = f"{spec.name}-{digest[:10]}"  # same template, same revision
    return template


def spec_annotation(spec: ServiceSpec) -> str:
    """What the deployer keeps of a spec on its service (the bundle path is local to the registry, not kept)."""
    data = spec.to_json()
    data.pop("bundle_dir")
    data["bundle"] = spec.bundle_dir.name
    return json.dumps(data, sort_keys=True)


def model_service(spec: ServiceSpec, settings: ClusterSettings) -> dict[str, Any]:
    """The Knative Service of a model version, cluster-local, all traffic on the revision of this template."""
    template = _template(spec, settings)
    group, version, _ = SERVING
    return {
        "apiVersion": f"{group}/{version}",
        "kind": "Service",
        "metadata": {
            "name": spec.name, "namespace": settings.namespace,
            "labels": {**labels(spec), "networking.knative.dev/visibility": "cluster-local"},
            "annotations": {SPEC_ANNOTATION: spec_annotation(spec)},
        },
        "spec": {"template": template,
                 "traffic": [{"revisionName": template["metadata"]["name"], "percent": 100}]},
    }


def policy_name(service: str) -> str:
    """The NetworkPolicy of a model service."""
    return f"{service}-no-egress"


def model_network_policy(spec: ServiceSpec, settings: ClusterSettings) -> dict[str, Any]:
    """No egress at all for the model's pods; ingress only from Knative's activator and ingress (its callers)."""
    from_namespaces = [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}
                       for namespace in ("knative-serving", "kourier-system")]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": policy_name(spec.name), "namespace": settings.namespace, "labels": labels(spec)},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/instance": spec.name, ROLE_LABEL: MODEL_ROLE}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": from_namespaces}],
            "egress": [],
        },
    }


# Reading them back

def condition(service: dict[str, Any], kind: str) -> dict[str, Any]:
    """One of a service's status conditions (`Ready`, …), or {} while Knative has not set it."""
    conditions = service.get("status", {}).get("conditions", [])
    return next((c for c in conditions if c.get("type") == kind), {})


def not_ready_reason(service: dict[str, Any]) -> str:
    """Why a service is not ready, in Knative's words."""
    ready = condition(service, "Ready")
    return str(ready.get("message") or ready.get("reason") or "no revision is ready yet")


def managed(obj: dict[str, Any]) -> bool:
    """Whether the model deployer wrote this object (a platform function in the same namespace is not its own)."""
    return obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/managed-by") == MANAGED_BY


def serves(current: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether the service already runs the wanted template (named by its hash), from the same spec, with all the
    traffic on it."""
    revision = wanted["spec"]["template"]["metadata"]["name"]
    spec = current["metadata"].get("annotations", {}).get(SPEC_ANNOTATION)
    return current["spec"]["template"].get("metadata", {}).get("name") == revision and \
        spec == wanted["metadata"]["annotations"][SPEC_ANNOTATION] and \
        current_revision(current["spec"].get("traffic", [])) == revision


def _without_empty(value: Any) -> Any:
    """A value without empty lists and maps, which the API server may or may not keep."""
    if isinstance(value, dict):
        return {k: _without_empty(v) for k, v in value.items() if v not in ([], {}, None)}
    if isinstance(value, list):
        return [_without_empty(v) for v in value]
    return value


def same_policy(stored: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether a stored NetworkPolicy spec still says what ours says."""
    return _without_empty(stored) == _without_empty(wanted)


def current_revision(traffic: list[dict[str, Any]]) -> str | None:
    """The revision taking all the traffic."""
    return next((entry.get("revisionName") for entry in traffic if entry.get("percent") == 100), None)


def route_to(traffic: list[dict[str, Any]], revision: str) -> list[dict[str, Any]]:
    """The traffic list with 100 % on `revision` and every other entry kept at 0 %, tagged so it stays routable."""
    routed = []
    for entry in traffic:
        name = entry["revisionName"]
        item: dict[str, Any] = {"revisionName": name, "percent": 100 if name == revision else 0}
        if name != revision:
            item["tag"] = "r-" + name.rsplit("-", 1)[-1]
        routed.append(item)
    return routed
