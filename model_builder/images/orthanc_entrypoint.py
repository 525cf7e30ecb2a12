#!/usr/bin/python3
"""Entry point of the mcc/orthanc image (runs on the image's Debian python3, standard library only).

Orthanc's configuration is the image's defaults (/etc/orthanc/orthanc.json), merged with the JSON object in
MCC_ORTHANC_CONFIG (non-secret settings, e.g. from the `mcc-orthanc-config` ConfigMap: index, storage backend, key
provider), and the REST user of MCC_ORTHANC_USERNAME / MCC_ORTHANC_PASSWORD. It is written 0600 under /tmp (the root
file system is read-only) and Orthanc is exec'd on it; arguments go to Orthanc. Other secrets reach the libraries
through their own variables (PGPASSWORD, AWS_ACCESS_KEY_ID, ...), never the file. Exit status 2: bad settings.
"""

from __future__ import annotations

import json
import os
import sys

DEFAULTS = "/etc/orthanc/orthanc.json"
GENERATED = "/tmp/orthanc/orthanc.json"
ORTHANC = "/usr/sbin/Orthanc"


def merged(base: dict, overlay: dict) -> dict:
    """`overlay` over `base`, objects merged key by key (so one MedCloudCare setting keeps the others)."""
    result = dict(base)
    for key, value in overlay.items():
        result[key] = merged(result[key], value) if isinstance(value, dict) and isinstance(result.get(key), dict) \
            else value
    return result


def configuration(environ: dict[str, str]) -> dict:
    """The configuration Orthanc runs with, or SystemExit naming the variable that is wrong."""
    with open(DEFAULTS, encoding="utf-8") as defaults:
        config = json.load(defaults)
    extra = environ.get("MCC_ORTHANC_CONFIG", "").strip()
    if extra:
        try:
            overlay = json.loads(extra)
        except ValueError as e:
            raise SystemExit(f"MCC_ORTHANC_CONFIG: not JSON ({e})") from e
        if not isinstance(overlay, dict):
            raise SystemExit("MCC_ORTHANC_CONFIG: must be a JSON object of Orthanc settings")
        config = merged(config, overlay)
    user, password = environ.get("MCC_ORTHANC_USERNAME", ""), environ.get("MCC_ORTHANC_PASSWORD", "")
    if bool(user) != bool(password):
        raise SystemExit("MCC_ORTHANC_USERNAME, MCC_ORTHANC_PASSWORD: give both or neither")
    if user:
        config["RegisteredUsers"] = {user: password}
    return config


def main() -> None:
    try:
        config = configuration(dict(os.environ))
    except SystemExit as e:
        print(f"orthanc entrypoint: {e}", file=sys.stderr)
        sys.exit(2)
    os.makedirs(os.path.dirname(GENERATED), mode=0o700, exist_ok=True)
    descriptor = os.open(GENERATED, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as generated:
        json.dump(config, generated, indent=1)
    os.execv(ORTHANC, [ORTHANC, *sys.argv[1:], GENERATED])


if __name__ == "__main__":
    main()
