"""Apply rendered manifests through the Kubernetes API, as `kubectl apply` would without kubectl: each object is
read, then created or merge-patched, namespaces and accounts before the workloads that use them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubernetes import client, config
from kubernetes.client.rest import ApiException
from urllib3.exceptions import HTTPError

from model_builder.deploy.knative import api_message, send_loaded_token

# Kinds without a namespace, and plural resource names that are not simply the lower-cased kind plus "s".
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass",
                  "StorageClass", "RuntimeClass", "PersistentVolume", "ValidatingWebhookConfiguration",
                  "MutatingWebhookConfiguration"}
PLURALS = {"NetworkPolicy": "networkpolicies", "Ingress": "ingresses", "PodDisruptionBudget": "poddisruptionbudgets",
           "StorageClass": "storageclasses", "PriorityClass": "priorityclasses", "RuntimeClass": "runtimeclasses",
           "Endpoints": "endpoints"}
# Objects others depend on go first; anything not listed (Knative Services, Deployments, ...) after them.
ORDER = ["Namespace", "CustomResourceDefinition", "ServiceAccount", "Role", "ClusterRole", "RoleBinding",
         "ClusterRoleBinding", "ConfigMap", "Secret", "PersistentVolumeClaim", "NetworkPolicy"]
TIMEOUT = (3, 20)


class ApplyError(Exception):
    """The cluster refused or could not be reached; the message names the object and the cause."""


def container_images(obj: dict[str, Any]) -> list[str]:
    """Images of every container and init container of a workload-like object."""
    images: list[str] = []
    stack: list[Any] = [obj.get("spec")]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key in ("containers", "initContainers"):
                images += [c["image"] for c in value.get(key) or [] if isinstance(c, dict) and "image" in c]
            stack += [v for k, v in value.items() if k not in ("containers", "initContainers")]
        elif isinstance(value, list):
            stack += value
    return images


def resource_path(obj: dict[str, Any], namespace: str) -> tuple[str, str]:
    """(collection path, object name) of `obj` on the API server."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    name = (obj.get("metadata") or {}).get("name")
    if not (api_version and kind and name):
        raise ApplyError(f"manifest {json.dumps(obj)[:120]} lacks apiVersion, kind or metadata.name")
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    plural = PLURALS.get(kind, kind.lower() + "s")
    if kind in CLUSTER_SCOPED:
        return f"{base}/{plural}", name
    ns = (obj.get("metadata") or {}).get("namespace") or namespace
    return f"{base}/namespaces/{ns}/{plural}", name


def ordered(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects in dependency order, stable otherwise."""
    rank = {kind: i for i, kind in enumerate(ORDER)}
    return sorted(objects, key=lambda o: rank.get(str(o.get("kind")), len(ORDER)))


@dataclass
class Cluster:
    """A Kubernetes API server reached through the official client's configuration."""

    api: client.ApiClient
    where: str

    @classmethod
    def from_kubeconfig(cls, path: Path, context: str | None) -> Cluster:
        try:
            api = config.new_client_from_config(config_file=str(path), context=context, persist_config=False)
        except (config.ConfigException, OSError, ValueError) as e:
            raise ApplyError(f"cannot use kubeconfig {path} (context {context or 'current'}): {e}") from e
        send_loaded_token(api.configuration)
        return cls(api, api.configuration.host)

    def _call(self, method: str, path: str, body: Any = None, content_type: str = "application/json") -> Any:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        response = self.api.call_api(
            path, method, header_params=headers, body=body, _return_http_data_only=True, _preload_content=False,
            _request_timeout=TIMEOUT, auth_settings=["BearerToken"],
        )
        return json.loads(response.data or b"{}")

    def check_reachable(self) -> None:
        """Refuse when nothing answers at the API server's address (any HTTP answer proves it is there)."""
        try:
            self._call("GET", "/version")
        except ApiException as e:
            if e.status == 0:
                raise ApplyError(f"the Kubernetes API at {self.where} is unreachable ({e.reason})") from e
        except (HTTPError, OSError) as e:
            raise ApplyError(f"the Kubernetes API at {self.where} is unreachable ({type(e).__name__}: {e})") from e

    def apply(self, obj: dict[str, Any], namespace: str) -> str:
        """Create `obj`, or merge-patch it when it exists; returns 'created' or 'configured'."""
        collection, name = resource_path(obj, namespace)
        try:
            try:
                self._call("GET", f"{collection}/{name}")
            except ApiException as e:
                if e.status != 404:
                    raise
                self._call("POST", collection, obj)
                return "created"
            self._call("PATCH", f"{collection}/{name}", obj, "application/merge-patch+json")
            return "configured"
        except ApiException as e:
            raise ApplyError(f"{obj['kind']}/{name}: the API server answered {e.status} {api_message(e)}") from e
        except (HTTPError, OSError) as e:
            raise ApplyError(f"{obj['kind']}/{name}: the Kubernetes API at {self.where} stopped answering ({e})") from e

    def apply_all(self, objects: list[dict[str, Any]], namespace: str) -> list[str]:
        """Apply every object in dependency order; one line per object, like kubectl's."""
        lines = []
        for obj in ordered(objects):
            outcome = self.apply(obj, namespace)
            lines.append(f"{obj['kind']}/{obj['metadata']['name']} {outcome}")
        return lines
