"""Security primitives: envelope encryption and keys, blind indexes, access tokens, passwords, the audit log.

Keep this file free of imports: Orthanc's storage plugin imports `keys.py` on Debian's system Python."""
