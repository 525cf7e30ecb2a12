"""The image builder's errors: one root, each carrying what the user needs to fix the problem."""

from __future__ import annotations


class ImageError(Exception):
    """Root of every image-building or pushing failure; `detail` says what to do."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadImageName(ImageError):
    """A repository name or tag the OCI distribution spec does not allow."""

    def __init__(self, field: str, value: str, rule: str) -> None:
        super().__init__(f"{field}: {value!r} is not a valid OCI {field} ({rule})")
        self.field = field
        self.value = value


class MissingInput(ImageError):
    """A file or directory an image needs (a model bundle, the built web apps) is not there."""

    def __init__(self, what: str, path: str, hint: str) -> None:
        super().__init__(f"{what}: {path} does not exist or is incomplete; {hint}")
        self.what = what
        self.path = path


class RegistryError(ImageError):
    """The registry refused a request or could not be reached; names the registry."""

    def __init__(self, registry: str, detail: str) -> None:
        super().__init__(f"registry {registry}: {detail}")
        self.registry = registry


class DebianError(ImageError):
    """apt could not resolve or download a package the base needs."""
