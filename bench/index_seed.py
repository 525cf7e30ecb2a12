"""Seed the study index with many synthetic studies, exactly as STOW-RS would have indexed them.

Rows go straight into PostgreSQL (batched inserts: 10,000 studies take seconds), with what the
gateway writes for a real upload: keyed blind-index name tokens, a keyed patient-ID hash, the study
date shifted by the owner's keyed shift, a fresh wrapped data key per study and the study's original
identifying attributes (with its date, time and description) sealed under it, so searches match and
results decrypt. No instances reach Orthanc: only study-level searches see them.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcc_local.launcher import Platform

INSERT_CHUNK = 2000

SURNAMES = (
    "SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCÍA", "MÜLLER", "SCHMIDT", "DUBOIS", "MARTIN",
    "BERNARD", "ROSSI", "RUSSO", "KOWALSKI", "NOWAK", "NGUYEN", "TRAN", "KIM", "LEE", "PARK", "WANG",
    "LI", "ZHANG", "CHEN", "SATO", "SUZUKI", "TANAKA", "SILVA", "SANTOS", "PEREIRA", "FERREIRA",
    "JOHANSSON", "ANDERSSON", "NIELSEN", "HANSEN", "O'BRIEN", "MURPHY", "KELLY", "VAN DER BERG",
    "DE JONG", "JANSEN", "PETROV", "IVANOV", "KOVÁČ", "NAGY", "HORVÁTH", "YILMAZ", "KAYA", "ÖZTÜRK",
    "COHEN", "LEVI", "HASSAN", "ALI", "KHAN", "PATEL", "SINGH", "KUMAR", "OKAFOR", "MENSAH", "DIALLO",
)
GIVEN_NAMES = (
    "JANE", "JOHN", "MARIA", "JOSÉ", "ANNA", "PETER", "LUCÍA", "HANS", "CHLOÉ", "LUCA", "SOFIA", "PIOTR",
    "LINH", "MINH", "JI-HO", "WEI", "YUKI", "HIROSHI", "JOÃO", "ANA", "ERIK", "ASTRID", "SEAN", "AOIFE",
    "DAAN", "EMMA", "OLGA", "IVAN", "ZSÓFIA", "MEHMET", "AYŞE", "NOAH", "FATIMA", "OMAR", "PRIYA", "ARJUN",
    "CHIDI", "AMA", "AMADOU", "ÉLODIE",
)
# (modalities in study, description, weight): roughly a general hospital's mix.
STUDY_KINDS = (
    (["CR"], "CHEST PA", 20), (["DX"], "KNEE 2 VIEWS", 10), (["CT"], "CT CHEST", 14), (["CT"], "CT HEAD", 8),
    (["MR"], "MR BRAIN", 10), (["MR"], "MR KNEE", 6), (["US"], "US ABDOMEN", 12), (["MG"], "MAMMOGRAPHY", 6),
    (["CT", "PT"], "PET-CT WHOLE BODY", 3), (["NM"], "BONE SCAN", 2), (["XA"], "CORONARY ANGIO", 3),
    (["CT", "SR"], "CT ABDOMEN", 6),
)


@dataclass(frozen=True)
class SeededPatient:
    """Who a seeded study belongs to, in the clear: what a benchmark searches for."""

    name: str
    patient_id: str


def seed_index(owner_id: uuid.UUID, count: int, rng: random.Random, *, tag: str) -> list[SeededPatient]:
    """Insert `count` studies (1-5 per patient) for `owner_id`; return the patients, names and IDs in the clear.

    The platform's modules are imported here, not at the top: they read their settings from the
    environment, which exists only once the platform is up.
    """
    from pydicom.uid import generate_uid
    from sqlalchemy import insert

    from functions.common.dicom.index import Patient, Study
    from functions.common.dicom.originals import new_study_key, seal
    from functions.common.dicom.search import stored_date
    from functions.common.platform import db
    from functions.common.security.blind_index import name_tokens
    from functions.common.security.crypto import keyed_hash

    token_cache: dict[str, list[str]] = {}

    def tokens(name: str) -> list[str]:
        found: set[str] = set()
        for component in name.split("^"):  # a name's tokens are the union of its components' tokens
            if component not in token_cache:
                token_cache[component] = name_tokens(component)
            found.update(token_cache[component])
        return sorted(found)

    kinds = [k for k in STUDY_KINDS for _ in range(k[2])]
    patients: list[SeededPatient] = []
    patient_rows: list[dict] = []
    study_rows: list[dict] = []
    while len(study_rows) < count:
        name = f"{rng.choice(SURNAMES)}^{rng.choice(GIVEN_NAMES)}"
        person = SeededPatient(name, f"{tag}{len(patients):07d}")
        patients.append(person)
        pid_hash = keyed_hash(person.patient_id, purpose="patient-id")
        patient_pk = uuid.uuid4()
        patient_rows.append({"id": patient_pk, "owner_id": owner_id, "patient_id_hash": pid_hash})
        birth = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(90 * 365))
        name_index = tokens(name)
        for _ in range(min(rng.choice((1, 1, 1, 2, 2, 3, 4, 5)), count - len(study_rows))):
            modalities, description, _ = rng.choice(kinds)
            study_uid = generate_uid()
            key, wrapped = new_study_key(study_uid)
            day = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(11 * 365))
            originals = {
                "00080020": {"vr": "DA", "Value": [day.strftime("%Y%m%d")]},
                "00080030": {"vr": "TM", "Value": [f"{rng.randrange(7, 20):02d}{rng.randrange(60):02d}00"]},
                "00081030": {"vr": "LO", "Value": [description]},
                "00080050": {"vr": "SH", "Value": [f"ACC{rng.randrange(10**8):08d}"]},
                "00080090": {"vr": "PN", "Value": [{"Alphabetic": f"{rng.choice(SURNAMES)}^DR"}]},
                "00100010": {"vr": "PN", "Value": [{"Alphabetic": name}]},
                "00100020": {"vr": "LO", "Value": [person.patient_id]},
                "00100030": {"vr": "DA", "Value": [birth.strftime("%Y%m%d")]},
                "00080080": {"vr": "LO", "Value": ["MedCloudCare Bench Hospital"]},
            }
            study_rows.append({
                "id": uuid.uuid4(), "study_uid": study_uid, "owner_id": owner_id, "patient_pk": patient_pk,
                "patient_id_hash": pid_hash, "name_tokens": name_index,
                "study_date": stored_date(day, owner_id), "modalities": sorted(modalities),
                "num_series": rng.randint(1, 6), "num_instances": rng.randint(1, 400),
                "key_kek_id": wrapped.kek_id, "key_wrapped": wrapped.wrapped,
                "originals_enc": seal(key, originals, study_uid=study_uid),
            })
    with db.session_scope() as session:
        for i in range(0, len(patient_rows), INSERT_CHUNK):
            session.execute(insert(Patient), patient_rows[i:i + INSERT_CHUNK])
        for i in range(0, len(study_rows), INSERT_CHUNK):
            session.execute(insert(Study), study_rows[i:i + INSERT_CHUNK])
    return patients


def seed_shares(owner_id: uuid.UUID, grantee_id: uuid.UUID, count: int, rng: random.Random) -> int:
    """Share `count` more of the owner's studies (ones not shared yet) with the grantee: half directly, half
    through a new group of the two. Returns how many studies this call shared."""
    from sqlalchemy import exists, insert, select

    from functions.common.access.tables import Group, GroupMember, StudyShare
    from functions.common.dicom.index import Study
    from functions.common.platform import db

    with db.session_scope() as session:
        ids = list(session.scalars(select(Study.id).where(Study.owner_id == owner_id,
                                                          ~exists().where(StudyShare.study_id == Study.id))))
        chosen = rng.sample(ids, min(count, len(ids)))
        group_id = uuid.uuid4()
        session.execute(insert(Group).values(id=group_id, name="bench group", owner_id=owner_id))
        session.execute(insert(GroupMember).values([
            {"group_id": group_id, "user_id": owner_id, "role": "owner"},
            {"group_id": group_id, "user_id": grantee_id, "role": "member"}]))
        rows = [{"id": uuid.uuid4(), "study_id": sid, "level": rng.choice(("read", "contribute")),
                 "created_by": owner_id, "user_id": grantee_id if i % 2 else None, "group_id": None if i % 2 else group_id}
                for i, sid in enumerate(chosen)]
        for start in range(0, len(rows), INSERT_CHUNK):
            session.execute(insert(StudyShare).values(rows[start:start + INSERT_CHUNK]))
    return len(chosen)


def settle(platform: Platform) -> None:
    """VACUUM ANALYZE the seeded tables, as autovacuum would once they settle: statistics for the planner and the
    visibility map (index-only scans). As the tables' owner: PostgreSQL skips them, with a warning only, for the
    functions' role."""
    from mcc_local.launcher import DATABASE, OWNER_ROLE
    from sqlalchemy import text

    from functions.common.platform.db import engine_for

    url = platform.pg.url(DATABASE, OWNER_ROLE, platform._db_password(OWNER_ROLE))
    with engine_for(url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("users", "patients", "studies", "study_shares", "groups", "group_members"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
