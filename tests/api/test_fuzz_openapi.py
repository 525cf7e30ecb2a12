"""Every function fuzzed through the OpenAPI document it serves (issue 10, "Fuzzing every API").

For each function and each kind of caller (an admin, a researcher and a health professional with real
sessions; no session; a token the platform must refuse) every operation of the served document gets a
bounded number of generated requests, valid and invalid (tests/support/fuzz.py). Every answer must be as
the document says (status, media type, headers, body schema; errors problem+json), never a 5xx, and a 401
for a caller without a valid session unless the operation is public. Operations on a study (the gateway's,
the study list's, sharing's) are also seeded with the UIDs of real stored studies (the caller's own, and
another user's, which must never answer), so the fuzzer reaches the archive behind them; no answer may name
the archive itself.

Deterministic (derandomized Hypothesis, no example database) and bounded: about 80 s on a busy 2-core machine
(MCC_FUZZ_SCALE=5 multiplies the requests for a deeper run by hand).
"""

from __future__ import annotations

import itertools
import os
import uuid

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey
from mcc_local.dicomgen import Patient, ct_series

from tests.support import fuzz
from tests.support.dicomweb import stow

FUNCTIONS = {"auth": "/api/auth/openapi.json", "dicomweb": "/dicom-web/openapi.json",
             "studies": "/api/studies/openapi.json", "sharing": "/api/sharing/openapi.json",
             "models": "/api/models/openapi.json", "inference": "/api/inference/openapi.json"}
SIGNED_IN = ("admin", "researcher", "health_professional")
CALLERS = ("anonymous", "forged", *SIGNED_IN)
SIGN_OUT = {"/api/auth/logout", "/api/auth/logout-all"}  # the fuzzer's session ends: the caller opens another
# Generated requests per operation: more where they reach real data (a caller's own studies through the gateway).
# Public operations are fuzzed anonymously only: a token changes nothing there.
EXAMPLES = {"anonymous": 5, "forged": 2, "admin": 4, "researcher": 4, "health_professional": 4}
DEEP_EXAMPLES = 10
DEEP = {"dicomweb", "studies", "sharing"}  # their operations on a study are also seeded with real UIDs
SCALE = int(os.environ.get("MCC_FUZZ_SCALE", "1"))  # e.g. 5 for a deeper run by hand; CI runs 1


def _session_minter(user_id: str, amr: list[str]):
    """Opens a real session for the account, as a sign-in does (without the password, so the fuzzer's wrong
    passwords, which lock the account's sign-in for a while, cannot lock the fuzzer out)."""

    def mint() -> str:
        from functions.auth import sessions
        from functions.common.accounts.tables import User
        from functions.common.platform import db

        with db.session_scope() as s:
            pair = sessions.start(s, s.get(User, uuid.UUID(user_id)), amr=amr, client_ip="198.18.0.1",
                                  user_agent="fuzz")
        return pair["access_token"]

    return mint


def _refused_tokens(origin: str, ca: str):
    """Tokens every function must refuse: garbage, a real key id with a signature of another key, an expired
    token and a second-factor ticket (each signed by the platform), in turn."""
    from functions.common.security import tokens

    kid = requests.get(origin + "/api/auth/.well-known/jwks.json", verify=ca, timeout=10).json()["keys"][0]["kid"]
    claims = {"sub": str(uuid.uuid4()), "sid": str(uuid.uuid4()), "role": "researcher", "status": "active",
              "amr": ["pwd"]}
    forged = jwt.encode({"alg": "ES256", "kid": kid}, {**claims, "typ": "access"}, ECKey.generate_key("P-256"))
    expired = tokens.issue(claims, ttl=-60, typ="access")
    ticket = tokens.issue({"sub": claims["sub"], "amr": ["pwd"], "api": True}, ttl=300, typ="mfa")
    return itertools.cycle(["not-a-token", forged, expired, ticket])


@pytest.fixture(scope="module")
def ca(origin: str) -> str:
    return os.environ["MCC_TEST_CA"]


@pytest.fixture(scope="module")
def accounts(factory):
    """The fuzzer's own accounts (no other test's): a researcher, a health professional, an admin with TOTP."""
    return {"researcher": factory.create("researcher"), "health_professional": factory.create("health_professional"),
            "admin": factory.admin()}


@pytest.fixture(scope="module")
def callers(accounts, origin: str, ca: str) -> dict[str, fuzz.Caller]:
    signed_in = {role: fuzz.Caller(role, _session_minter(a.id, ["pwd", "otp"] if role == "admin" else ["pwd"]))
                 for role, a in accounts.items()}
    return {"anonymous": fuzz.Caller("anonymous"), "forged": fuzz.Caller("forged", tokens=_refused_tokens(origin, ca)),
            **signed_in}


@pytest.fixture(scope="module")
def studies(accounts) -> dict[str, dict[str, str]]:
    """A stored two-slice CT of each patient-data account: its UIDs by path parameter name."""
    stored = {}
    for role in ("researcher", "health_professional"):
        datasets = ct_series(Patient(name=f"Fuzz^{role}", patient_id=f"FZ-{uuid.uuid4().hex[:10]}"), slices=2,
                             rows=16, columns=16)
        r = stow(accounts[role].client, datasets)
        assert r.status_code == 200, r.text
        first = datasets[0]
        stored[role] = {"study": first.StudyInstanceUID, "study_uid": first.StudyInstanceUID,
                        "series": first.SeriesInstanceUID, "sop": first.SOPInstanceUID}
    return stored


def _seeds(operation, own: dict[str, str], foreign: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """Fixed parameters for an operation on studies, and those also sent as they are (before anything generated):
    the caller's own study (its series, instance and first frame) and another user's; frames that do not exist,
    several frames; the caller's own study with the rest generated."""
    names = {p.name for p in operation.path_parameters}
    if not names & {"study", "study_uid"}:
        return [], []

    def chain(uids: dict[str, str], frames: str) -> dict:
        chosen = {name: uids[name] for name in names if name in uids}
        return {"path_parameters": chosen | ({"frames": frames} if "frames" in names else {})}

    whole = [chain(own, "1"), chain(foreign, "1")]
    explicit = whole if names <= {*own, "frames"} else []  # an explicit request names every path parameter
    study_only = {"path_parameters": {n: own[n] for n in names & {"study", "study_uid"}}}
    return whole + [chain(own, "2"), chain(own, "1,2"), study_only], explicit


@pytest.mark.parametrize("caller_name", CALLERS)
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_every_operation_answers_as_its_document_says(function, caller_name, origin, ca, callers, studies, archive):
    """No 5xx, every answer as documented, 401 without a valid session, nothing of another user's study, and
    never the archive's own address: for every operation of the function's served document."""
    caller = callers[caller_name]
    served = fuzz.Served.load(origin, FUNCTIONS[function], ca=ca)
    own = studies.get(caller_name, {})
    foreign = studies["health_professional" if caller_name == "researcher" else "researcher"]
    findings = []
    with requests.Session() as session:
        session.trust_env = False
        for operation in served.operations():
            if fuzz.is_public(operation) and caller_name != "anonymous":
                continue
            seeds, explicit = _seeds(operation, own, foreign) if own and function in DEEP else ([], [])

            def check(case, operation=operation):
                response = fuzz.send(case, origin=origin, ca=ca, session=session, caller=caller)
                if operation.path in SIGN_OUT and caller.signed_in:
                    caller.signed_out()
                fuzz.judge(case, response, caller)
                headers = " ".join(v for values in response.headers.values() for v in values)
                assert archive.url not in response.text_lossy() + headers, "the answer names the archive"
                if foreign and foreign["study"] in case.path_parameters.values():
                    assert not 200 <= response.status_code < 300, "another user's study answered"

            examples = SCALE * (DEEP_EXAMPLES if seeds else EXAMPLES[caller_name])
            finding = fuzz.fuzz(operation, fuzz.requests_for(operation, *seeds), check, max_examples=examples,
                                explicit=explicit)
            if finding:
                findings.append(finding)
    assert not findings, "\n\n".join(findings)
