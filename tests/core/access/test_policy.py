"""The permission model on its own: who may do what to a study or a model, asked with a database
session and a principal, exactly as every function asks it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, select

from functions.common.access.policy import (
    Action,
    ModelAction,
    access_to_studies,
    can,
    may_store_into,
    model_access,
    model_for,
    study_access,
    study_for,
    visible_models,
    visible_studies,
)
from functions.common.access.tables import GroupMember, ModelShare, StudyShare
from functions.common.ai_models.tables import AiModel, ModelVersion
from functions.common.dicom.index import Study
from functions.common.platform.errors import NotFound


def _share(db, study, *, level, user=None, group=None, by):
    db.add(StudyShare(id=uuid.uuid4(), study_id=study.id, level=level, created_by=by.id,
                      user_id=user.id if user else None, group_id=group.id if group else None))
    db.flush()


def _visible(db, person, scope="all") -> set[uuid.UUID]:
    return set(db.scalars(visible_studies(person.principal, scope).with_only_columns(Study.id)))


def test_the_owner_may_do_everything_to_a_study(db, world):
    owner = world.person()
    study = world.study(owner)
    assert study_access(db, owner.principal, study) == "owner"
    assert all(can(db, owner.principal, a, study) for a in Action)


def test_a_reader_reads_and_a_contributor_also_stores(db, world):
    owner, reader, contributor = world.person(), world.person(), world.person()
    study = world.study(owner)
    _share(db, study, level="read", user=reader, by=owner)
    _share(db, study, level="contribute", user=contributor, by=owner)
    assert {a for a in Action if can(db, reader.principal, a, study)} == {Action.READ}
    assert {a for a in Action if can(db, contributor.principal, a, study)} == {Action.READ, Action.STORE}
    assert study_for(db, contributor.principal, study.study_uid, Action.STORE).id == study.id
    with pytest.raises(NotFound):
        study_for(db, reader.principal, study.study_uid, Action.STORE)


def test_a_forbidden_study_and_an_unknown_one_are_the_same_404(db, world):
    owner, stranger = world.person(), world.person()
    study = world.study(owner)
    with pytest.raises(NotFound) as forbidden:
        study_for(db, stranger.principal, study.study_uid, Action.READ)
    with pytest.raises(NotFound) as unknown:
        study_for(db, stranger.principal, "1.2.3.4.5", Action.READ)
    assert forbidden.value.detail == unknown.value.detail


def test_a_group_share_lasts_as_long_as_the_membership(db, world):
    owner, member = world.person(), world.person()
    group = world.group(owner, member)
    study = world.study(owner)
    _share(db, study, level="read", group=group, by=owner)
    assert study.id in _visible(db, member, "shared")
    assert study_access(db, member.principal, study) == "read"
    db.execute(delete(GroupMember).where(GroupMember.group_id == group.id, GroupMember.user_id == member.id))
    assert study.id not in _visible(db, member)
    assert study_access(db, member.principal, study) is None


def test_the_best_of_several_shares_counts(db, world):
    owner, member = world.person(), world.person()
    study = world.study(owner)
    _share(db, study, level="read", user=member, by=owner)
    _share(db, study, level="contribute", group=world.group(owner, member), by=owner)
    assert study_access(db, member.principal, study) == "contribute"
    assert access_to_studies(db, member.principal, [study]) == {study.id: "contribute"}


def test_a_study_never_reaches_the_other_role_even_through_a_group(db, world):
    owner, researcher = world.person("health_professional"), world.person("researcher")
    study = world.study(owner)
    _share(db, study, level="read", group=world.group(owner, researcher), by=owner)
    assert study.id not in _visible(db, researcher)
    assert study_access(db, researcher.principal, study) is None


@pytest.mark.parametrize("role, status", [("admin", "active"), ("health_professional", "pending"),
                                          ("health_professional", "rejected")])
def test_admins_and_unapproved_accounts_have_no_patient_data(db, world, role, status):
    owner, other = world.person(), world.person(role, status)
    study = world.study(owner)
    _share(db, study, level="read", user=other, by=owner)
    assert study_access(db, other.principal, study) is None
    assert not may_store_into(db, other.principal, None)


def test_scopes_split_mine_from_shared_with_me(db, world):
    me, colleague = world.person(), world.person()
    mine, theirs = world.study(me), world.study(colleague)
    _share(db, theirs, level="read", user=me, by=colleague)
    assert {mine.id, theirs.id} <= _visible(db, me, "all")
    assert mine.id in _visible(db, me, "mine") and theirs.id not in _visible(db, me, "mine")
    assert theirs.id in _visible(db, me, "shared") and mine.id not in _visible(db, me, "shared")


def test_storing_into_a_study_is_for_its_owner_contributors_or_a_new_study(db, world):
    owner, contributor, reader = world.person(), world.person(), world.person()
    study = world.study(owner)
    _share(db, study, level="contribute", user=contributor, by=owner)
    _share(db, study, level="read", user=reader, by=owner)
    assert may_store_into(db, owner.principal, study)
    assert may_store_into(db, contributor.principal, study)
    assert not may_store_into(db, reader.principal, study)
    assert may_store_into(db, reader.principal, None)  # a new study becomes the uploader's


def _model(db, owner, *, published: bool = False) -> AiModel:
    model = AiModel(id=uuid.uuid4(), owner_id=owner.id, name=f"model {uuid.uuid4().hex[:6]}")
    db.add(model)
    db.flush()
    db.add(ModelVersion(id=uuid.uuid4(), model_id=model.id, version=1, published=published, created_by=owner.id))
    db.flush()
    return model


def test_models_are_shared_with_researchers_and_published_to_health_professionals(db, world):
    owner, user, editor = world.person("researcher"), world.person("researcher"), world.person("researcher")
    doctor = world.person("health_professional")
    model = _model(db, owner)
    for person, level in ((user, "use"), (editor, "edit")):
        db.add(ModelShare(id=uuid.uuid4(), model_id=model.id, user_id=person.id, level=level, created_by=owner.id))
    db.flush()
    assert model_access(db, owner.principal, model) == "owner"
    assert model_access(db, user.principal, model) == "use"
    assert model_for(db, editor.principal, model.id, ModelAction.EDIT).id == model.id
    with pytest.raises(NotFound):
        model_for(db, user.principal, model.id, ModelAction.EDIT)
    assert model_access(db, doctor.principal, model) is None
    version = db.scalar(select(ModelVersion).where(ModelVersion.model_id == model.id))
    version.published = True
    db.flush()
    assert model_access(db, doctor.principal, model) == "published"
    assert model.id in set(db.scalars(visible_models(doctor.principal, "shared").with_only_columns(AiModel.id)))
    with pytest.raises(NotFound):
        model_for(db, doctor.principal, "not-a-uuid", ModelAction.USE)
