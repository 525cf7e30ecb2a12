"""The `knative` deployer's own errors, under `DeployError`: the Kubernetes API unreachable, refusing, or racing."""

from __future__ import annotations

from .errors import DeployError


class ClusterUnavailable(DeployError):
    """The Kubernetes API cannot be reached (or timed out)."""

    status = 503
    code = "cluster-unavailable"
    fields = ("api_url", "detail")

    def __init__(self, api_url: str, detail: str) -> None:
        self.api_url = api_url
        self.detail = detail
        super().__init__(f"the Kubernetes API at {api_url} is unavailable ({detail}): check the cluster and "
                         "MCC_KNATIVE_API_URL or the in-cluster service account")


class ClusterConflict(DeployError):
    """Another writer kept changing the same object between our read and our write."""

    status = 409
    code = "cluster-conflict"
    fields = ("name", "detail")

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        self.detail = detail
        super().__init__(f"the model service {name!r} kept changing while it was being updated ({detail}); "
                         "try again")


class ClusterRefused(DeployError):
    """The Kubernetes API refused a request (forbidden, invalid, …): `status` and `reason` are the API's."""

    status = 502
    code = "cluster-refused"
    fields = ("api_status", "reason", "detail")

    def __init__(self, api_status: int, reason: str, detail: str) -> None:
        self.api_status = api_status
        self.reason = reason
        self.detail = detail
        super().__init__(f"the Kubernetes API refused the request with HTTP {api_status} {reason}: {detail}")


class NoEarlierRevision(DeployError):
    """A rollback was asked of a service whose current revision is its first."""

    status = 409
    code = "no-earlier-revision"
    fields = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"the model service {name!r} has no revision before its current one to roll back to")


class ImageUnavailable(DeployError):
    """The version's image could not be made in (or read from) the registry; nothing was written to the cluster."""

    status = 502

    def __init__(self, image: str, detail: str) -> None:
        self.image = image
        super().__init__(f"the image {image} of this model version is not available: {detail}")
