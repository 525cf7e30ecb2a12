"""The one settings module: every knob is an environment variable prefixed MCC_."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """Raised at start-up when the environment does not describe a usable platform."""


class Settings(BaseSettings):
    """Platform settings; defaults are safe for a local, loopback-only installation."""

    model_config = SettingsConfigDict(env_prefix="MCC_", extra="ignore", frozen=True)

    database_url: str = Field(
        "postgresql+psycopg2://mcc@127.0.0.1:5433/mcc",
        description="SQLAlchemy URL of the PostgreSQL database.",
    )
    public_url: str = Field(
        "https://localhost:8443", description="Origin users reach; used in emailed links and OAuth redirects."
    )
    state_dir: Path = Field(Path("var"), description="Where local keys, certificates and data live.")
    key_dir: Path | None = Field(None, description="Key files (KEK, token signing key); default STATE_DIR/keys.")
    key_provider: Literal["local", "cloudkms"] = Field(
        "local", description="Key-encryption-key provider: key files under KEY_DIR, or Google Cloud KMS."
    )
    kms_key_name: str | None = Field(
        None, description="Cloud KMS crypto key (projects/P/locations/L/keyRings/R/cryptoKeys/K) for cloudkms."
    )
    kms_endpoint: str = Field("https://cloudkms.googleapis.com", description="Cloud KMS API origin.")
    jwks_url: str | None = Field(
        None, description="Where functions fetch the token-signing public keys; unset: read the local key dir."
    )
    access_token_ttl: int = Field(300, ge=30, le=3600, description="Access-token lifetime in seconds.")
    refresh_token_ttl: int = Field(14 * 24 * 3600, ge=300, description="Refresh-token lifetime in seconds.")
    mfa_token_ttl: int = Field(300, ge=30, le=900, description="Time allowed for the second factor, seconds.")
    cookie_secure: bool = Field(True, description="Mark cookies Secure (keep on: the origin is HTTPS).")
    smtp_host: str = Field("127.0.0.1", description="SMTP server for outgoing mail.")
    smtp_port: int = Field(8025, description="SMTP port.")
    smtp_user: str | None = Field(None, description="SMTP user name (optional).")
    smtp_password: str | None = Field(None, description="SMTP password (optional).")
    smtp_starttls: bool = Field(False, description="Use STARTTLS to the SMTP server.")
    mail_from: str = Field("MedCloudCare <no-reply@medcloudcare.local>", description="From address of mail.")
    storage_backend: Literal["local", "s3"] = Field("local", description="Object storage backend.")
    storage_dir: Path | None = Field(None, description="Local object storage; default STATE_DIR/objects.")
    s3_bucket: str | None = Field(None, description="Bucket for the s3 backend.")
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint (GCS interoperability, MinIO).")
    max_body_bytes: int = Field(6 * 1024 * 1024, ge=1024, description="Largest request body the API accepts.")
    max_certificate_bytes: int = Field(5 * 1024 * 1024, ge=1024, description="Largest certificate upload.")
    login_max_failures_account: int = Field(
        10, ge=1, le=100, description="Failed logins per account within LOGIN_WINDOW before a lockout."
    )
    login_max_failures_ip: int = Field(
        50, ge=1, description="Failed logins per client address within LOGIN_WINDOW before a lockout."
    )
    login_window: int = Field(900, ge=60, description="Throttling window and lockout length, seconds.")
    email_lookup_max_misses: int = Field(
        20, ge=1, description="Emails naming no active account that one user may try (sharing, groups) per hour."
    )
    argon2_time_cost: int = Field(2, ge=1, description="argon2id iterations.")
    argon2_memory_kib: int = Field(65536, ge=8192, description="argon2id memory in KiB.")
    argon2_parallelism: int = Field(2, ge=1, description="argon2id lanes.")
    oauth_providers: str = Field(
        "[]", description="JSON list of social-login providers (see README, 'Adding a social provider')."
    )
    trusted_proxies: int = Field(
        0, ge=0, description="How many reverse proxies in front set X-Forwarded-For (0: use the socket address)."
    )
    orthanc_url: str = Field("http://127.0.0.1:8042", description="Orthanc's REST base URL (reached only by the gateway).")
    orthanc_username: str | None = Field(None, description="Orthanc REST user.")
    orthanc_password: str | None = Field(None, description="Orthanc REST password.")
    max_instance_bytes: int = Field(512 * 1024 * 1024, ge=1024, description="Largest single DICOM instance in STOW.")
    max_stow_bytes: int = Field(8 * 1024 * 1024 * 1024, ge=1024, description="Largest STOW-RS request body.")
    model_deployer: Literal["local", "knative"] = Field(
        "local", description="Where model versions run as services: the local model host, or Knative Services."
    )
    knative_namespace: str = Field("mcc", description="Namespace of the model services (knative deployer).")
    knative_model_image: str = Field(
        "mcc/models:{bundle}", description="Image of a model version; {bundle} is its bundle digest (knative)."
    )
    knative_runtime_class: str | None = Field(None, description="RuntimeClass of model pods, e.g. gvisor (knative).")
    knative_runtime_image: str | None = Field(
        None, description="The model runtime base in the registry (knative): a version's image is made on it on deploy."
    )
    knative_api_url: str | None = Field(
        None, description="Kubernetes API URL (knative); unset: in-cluster service account, else the kubeconfig."
    )
    model_host_socket: Path | None = Field(
        None, description="The local model host's Unix socket; default STATE_DIR/run/model-host.sock."
    )
    bundles_dir: Path | None = Field(
        None, description="Unpacked model bundles the local model host serves; default STATE_DIR/bundles."
    )
    model_max_upload_bytes: int = Field(2 * 1024**3, ge=1024, description="Largest weight file or bundle archive.")
    model_chunk_bytes: int = Field(8 * 1024**2, ge=1024, le=64 * 1024**2, description="Upload chunk size, bytes.")
    model_smoke_seconds: int = Field(300, ge=5, description="Time a model's smoke run may take, start-up included.")
    model_memory_bytes: int = Field(4 * 1024**3, ge=64 * 1024**2, description="Memory of one model instance.")
    log_level: str = Field("INFO", description="Python log level.")

    @field_validator("public_url")
    @classmethod
    def _public_url_is_origin(cls, v: str) -> str:
        if not v.startswith(("https://", "http://")):
            raise ValueError("must start with https:// (or http:// for tests)")
        return v.rstrip("/")

    @field_validator("oauth_providers")
    @classmethod
    def _providers_are_json(cls, v: str) -> str:
        try:
            items = json.loads(v)
        except json.JSONDecodeError as e:
            raise ValueError(f"is not valid JSON ({e.msg})") from e
        if not isinstance(items, list) or not all(isinstance(i, dict) and "name" in i for i in items):
            raise ValueError('must be a JSON list of objects, each with at least "name"')
        return v

    @model_validator(mode="after")
    def _kms_key_named(self) -> Settings:
        if self.key_provider == "cloudkms" and not self.kms_key_name:
            raise ValueError("MCC_KMS_KEY_NAME is required when MCC_KEY_PROVIDER=cloudkms")
        return self

    @property
    def keys_path(self) -> Path:
        return self.key_dir or self.state_dir / "keys"

    @property
    def objects_path(self) -> Path:
        return self.storage_dir or self.state_dir / "objects"

    @property
    def model_host_path(self) -> Path:
        return self.model_host_socket or self.state_dir / "run" / "model-host.sock"

    @property
    def bundles_path(self) -> Path:
        return self.bundles_dir or self.state_dir / "bundles"

    @property
    def providers(self) -> list[dict]:
        return json.loads(self.oauth_providers)


@functools.cache
def get_settings() -> Settings:
    """Read and validate the environment once; a bad value stops start-up with a readable message."""
    try:
        return Settings()
    except ValidationError as e:
        lines = [f"  MCC_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in e.errors()]
        raise ConfigError("invalid configuration:\n" + "\n".join(lines)) from None


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between apps)."""
    get_settings.cache_clear()
