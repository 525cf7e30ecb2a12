"""Property-based fuzzing driven by a function's served OpenAPI document: schemathesis turns each operation
into Hypothesis strategies of requests (valid ones and ones the document forbids), Hypothesis sends a bounded,
deterministic number of them, and every answer is judged (`judge`): no 5xx, status, media type, headers and
body as documented, and 401 for a caller without a valid session on every operation that is not public."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# What schemathesis checks of every answer: no 5xx; status, media type, headers and body as documented.
DOCUMENT_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_headers_conformance, response_schema_conformance]
# Codes of a 401 that mean "you have no valid session": the answer to a caller without one, never to one with one.
NO_SESSION = {"not_authenticated", "invalid_token", "token_expired", "session_ended", "account_inactive"}

# Uploads (STOW-RS, zip import) are fuzzed as raw bytes of their declared media type.
schemathesis.serializer.alias(["application/zip", "multipart/related"], "application/octet-stream")

TOKEN_REUSE = 60.0  # seconds a caller's access token is used (they live 300 s): a slow run never sees one expire
_addresses = itertools.count(1)


def client_address() -> str:
    """A fresh address of the benchmarking range 198.18.0.0/15 (no other test's) per request: the fuzzer's wrong
    passwords then lock out no address other tests use, and no request of the fuzzer is throttled away from the
    deep code."""
    n = next(_addresses) % (2 * 256 * 254)
    return f"198.{18 + n // (256 * 254)}.{n // 254 % 256}.{n % 254 + 1}"


@dataclass
class Caller:
    """Who sends the fuzzed requests: an account with a real session (`mint` opens one and returns its access
    token, again after the fuzzer signed it out), or no valid session at all (`tokens` yields what is sent
    instead: nothing, or tokens the platform must refuse)."""

    name: str
    mint: Callable[[], str] | None = None
    tokens: Iterator[str | None] = field(default_factory=lambda: itertools.repeat(None))
    _token: str | None = field(default=None, repr=False)
    _minted: float = field(default=0.0, repr=False)

    @property
    def signed_in(self) -> bool:
        return self.mint is not None

    def headers(self) -> dict[str, str]:
        if self.mint is None:
            token = next(self.tokens)
        else:
            if self._token is None or time.monotonic() - self._minted > TOKEN_REUSE:
                self._token, self._minted = self.mint(), time.monotonic()
            token = self._token
        return {"Authorization": f"Bearer {token}"} if token else {}

    def signed_out(self) -> None:
        """The fuzzer ended this session (logout, logout everywhere): the next request opens another."""
        self._token = None


@dataclass(frozen=True)
class Served:
    """A function's document as served on the origin, loaded by schemathesis."""

    schema: schemathesis.BaseSchema

    @classmethod
    def load(cls, origin: str, path: str, *, ca: str) -> Served:
        return cls(schemathesis.openapi.from_url(origin + path, verify=ca))

    def operations(self) -> list:
        return [result.ok() for result in self.schema.get_all_operations()]


def is_public(operation) -> bool:
    """Public operations say so (`security: []`); every other one needs a session."""
    return operation.definition.raw.get("security") == []


def requests_for(operation, *seeds: dict) -> st.SearchStrategy:
    """Requests the document allows and requests it forbids (a malformed id, a value out of range, an unknown
    body field, ...); with `seeds` (fixed path or query parameters, e.g. the UIDs of a stored study), also each
    of those with the rest generated, so that the fuzzer reaches what lies behind a real id."""
    modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(mode) for mode in modes]
    if seeds:
        strategies += [st.sampled_from(seeds).flatmap(lambda seed, mode=mode: operation.as_strategy(mode, **seed))
                       for mode in modes]
    return st.one_of(strategies)


def settings(max_examples: int) -> hypothesis.settings:
    """Bounded and deterministic: the same requests in every run, no example database."""
    return hypothesis.settings(
        max_examples=max_examples, deadline=None, derandomize=True, database=None, print_blob=False,
        # Each example is a real HTTPS request to real PostgreSQL and Orthanc (too_slow), and schemathesis
        # filters values through the documents' patterns (filter_too_much): neither is a fault of the test.
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )


def fuzz(operation, cases: st.SearchStrategy, check: Callable, *, max_examples: int,
         explicit: Iterable[dict] = ()) -> str | None:
    """Send `max_examples` generated requests of one operation through `check(case)`, after one request for each
    of `explicit` (fixed parameters, nothing generated); the first failure (shrunk to a small request), described,
    or None."""

    @settings(max_examples)
    @hypothesis.given(case=cases)
    def run(case) -> None:
        check(case)

    for fixed in explicit:
        run = hypothesis.example(case=operation.Case(**fixed))(run)

    try:
        run()
    except (AssertionError, BaseExceptionGroup) as e:
        return f"{operation.method.upper()} {operation.path}: {e}"
    return None


def send(case, *, origin: str, ca: str, session: requests.Session, caller: Caller) -> schemathesis.Response:
    """Send one generated request as `caller`, from an address of its own; no cookie outlives it."""
    try:
        return case.call(base_url=origin, session=session, verify=ca, allow_redirects=False, timeout=60,
                         headers={"X-Forwarded-For": client_address(), **caller.headers()})
    finally:
        session.cookies.clear()


def judge(case, response: schemathesis.Response, caller: Caller) -> None:
    """The answer is as documented, and who may have it got it: raise AssertionError (or schemathesis' failures)
    otherwise."""
    case.validate_response(response, checks=DOCUMENT_CHECKS)
    if is_public(case.operation):
        return
    status, problem = response.status_code, _problem_code(response)
    if not caller.signed_in:
        assert status == 401 and problem in NO_SESSION, (
            f"a caller without a valid session got {status} {problem or response.text_lossy()[:200]} (expected 401)")
    else:
        assert not (status == 401 and problem in NO_SESSION), f"a signed-in {caller.name} got 401 {problem}"


def _problem_code(response: schemathesis.Response) -> str | None:
    if not response.headers.get("content-type", [""])[0].startswith("application/problem+json"):
        return None
    try:
        return response.json().get("code")
    except ValueError:
        return None
