"""Keyed blind indexes of person names: search encrypted names without decrypting them.

Each name component (case- and accent-folded) is indexed whole and by every prefix up to
MAX_PREFIX characters, as truncated keyed HMACs; a query matches by the same tokens.
"""

from __future__ import annotations

from functions.common.security.crypto import keyed_hash, normalise

MAX_PREFIX = 16


def name_tokens(name: str) -> list[str]:
    """Blind-index tokens of a person name: every prefix and the whole of each component."""
    tokens: set[str] = set()
    for component in _components(name):
        tokens.add(_token("full", component))
        for n in range(1, min(len(component), MAX_PREFIX) + 1):
            tokens.add(_token("prefix", component[:n]))
    return sorted(tokens)


def query_tokens(query: str) -> list[str]:
    """Tokens a record must have to match a name query (`*` allowed only at the end of a part)."""
    tokens = []
    for part in _components(query):
        if part == "*":
            continue  # matches anything
        stem = part.rstrip("*")
        if not stem or "*" in stem or "?" in stem:
            raise ValueError("only a trailing * is supported in PatientName on encrypted names")
        tokens.append(_token("prefix" if part.endswith("*") else "full", stem[:MAX_PREFIX] if part.endswith("*")
                             else stem))
    return tokens


def _components(name: str) -> list[str]:
    parts = []
    for chunk in name.replace("=", "^").split("^"):
        parts.extend(p for p in normalise(chunk).replace(",", " ").split() if p)
    return parts


def _token(kind: str, text: str) -> str:
    return keyed_hash(text, purpose=f"name-{kind}")[:32]
