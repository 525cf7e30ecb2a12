"""Routes of the `sharing` function: groups, study and model shares, publication, access queries.
The contract is docs/api/sharing.md."""

from __future__ import annotations

from functions.common.authz import (
    MODEL_ACTIONS,
    STUDY_ACTIONS,
    Action,
    ModelAction,
    model_access,
    model_for,
    require_patient_data_access,
    study_access,
    study_for,
)
from functions.common.http import EMAIL, Api, RequestContext, json_schema
from functions.sharing import groups, shares
from functions.sharing.shares import MODEL, STUDY

api = Api("sharing", prefix="/api", title="MedCloudCare sharing")

NAME = {"type": "string", "minLength": 1, "maxLength": 400}
MEMBER_ROLE = {"enum": ["member", "manager"]}
UUID_TEXT = {"type": "string", "maxLength": 64}
SHARE_BODY = json_schema({"email": EMAIL, "group_id": UUID_TEXT, "level": {"type": "string", "maxLength": 16}},
                         required=["level"])
LEVEL_BODY = json_schema({"level": {"type": "string", "maxLength": 16}})


# ------------------------------------------------------------------------------------------- groups

@api.route("/groups", summary="The groups I belong to")
def list_groups(ctx: RequestContext):
    return groups.list_groups(ctx)


@api.route("/groups", ("POST",), summary="Create a group (I own it)", body=json_schema({"name": NAME}))
def create_group(ctx: RequestContext):
    return groups.create_group(ctx)


@api.route("/groups/<group_id>", summary="A group I belong to, with its members")
def get_group(ctx: RequestContext, group_id: str):
    return groups.get_group(ctx, group_id)


@api.route("/groups/<group_id>", ("PATCH",), summary="Rename (owner, managers)", body=json_schema({"name": NAME}))
def rename_group(ctx: RequestContext, group_id: str):
    return groups.rename_group(ctx, group_id)


@api.route("/groups/<group_id>", ("DELETE",), summary="Delete the group and its shares (owner)")
def delete_group(ctx: RequestContext, group_id: str):
    groups.delete_group(ctx, group_id)


@api.route("/groups/<group_id>/members", ("POST",), summary="Add a member by email (owner, managers)",
           body=json_schema({"email": EMAIL, "role": MEMBER_ROLE}, required=["email"]))
def add_member(ctx: RequestContext, group_id: str):
    return groups.add_member(ctx, group_id)


@api.route("/groups/<group_id>/members/<user_id>", ("PATCH",), summary="Make a member a manager or back (owner)",
           body=json_schema({"role": MEMBER_ROLE}))
def change_role(ctx: RequestContext, group_id: str, user_id: str):
    return groups.change_role(ctx, group_id, user_id)


@api.route("/groups/<group_id>/members/<user_id>", ("DELETE",), summary="Remove a member, or leave")
def remove_member(ctx: RequestContext, group_id: str, user_id: str):
    groups.remove_member(ctx, group_id, user_id)


@api.route("/groups/<group_id>/owner", ("POST",), summary="Hand ownership to a member (owner)",
           body=json_schema({"user_id": UUID_TEXT}))
def transfer_ownership(ctx: RequestContext, group_id: str):
    return groups.transfer_ownership(ctx, group_id)


# ------------------------------------------------------------------------------------------- shares

@api.route("/shares/studies/<study_uid>", summary="Who has access to my study")
def list_study_shares(ctx: RequestContext, study_uid: str):
    return shares.list_shares(ctx, STUDY, study_uid)


@api.route("/shares/studies/<study_uid>", ("POST",), summary="Share my study with a user or group",
           body=SHARE_BODY)
def create_study_share(ctx: RequestContext, study_uid: str):
    return shares.create_share(ctx, STUDY, study_uid)


@api.route("/shares/studies/<study_uid>/<share_id>", ("PATCH",), summary="Change a share's level", body=LEVEL_BODY)
def change_study_share(ctx: RequestContext, study_uid: str, share_id: str):
    return shares.change_level(ctx, STUDY, study_uid, share_id)


@api.route("/shares/studies/<study_uid>/<share_id>", ("DELETE",), summary="Revoke a share")
def revoke_study_share(ctx: RequestContext, study_uid: str, share_id: str):
    shares.revoke(ctx, STUDY, study_uid, share_id)


@api.route("/shares/models", summary="Models shared with me or published (scope=shared), or all I may use")
def models_shared(ctx: RequestContext):
    return shares.models_shared_with_me(ctx)


@api.route("/shares/models/<model_id>", summary="Who has access to my model")
def list_model_shares(ctx: RequestContext, model_id: str):
    return shares.list_shares(ctx, MODEL, model_id)


@api.route("/shares/models/<model_id>", ("POST",), summary="Share my model with a researcher or group",
           body=SHARE_BODY)
def create_model_share(ctx: RequestContext, model_id: str):
    return shares.create_share(ctx, MODEL, model_id)


@api.route("/shares/models/<model_id>/<share_id>", ("PATCH",), summary="Change a share's level", body=LEVEL_BODY)
def change_model_share(ctx: RequestContext, model_id: str, share_id: str):
    return shares.change_level(ctx, MODEL, model_id, share_id)


@api.route("/shares/models/<model_id>/<share_id>", ("DELETE",), summary="Revoke a share")
def revoke_model_share(ctx: RequestContext, model_id: str, share_id: str):
    shares.revoke(ctx, MODEL, model_id, share_id)


@api.route("/shares/models/<model_id>/publication", ("PUT",), summary="Publish a version to all health professionals",
           body=json_schema({"version": {"type": "integer", "minimum": 1}}))
def publish_model(ctx: RequestContext, model_id: str):
    return shares.publish(ctx, model_id)


@api.route("/shares/models/<model_id>/publication", ("DELETE",), summary="Withdraw the published version")
def unpublish_model(ctx: RequestContext, model_id: str):
    shares.unpublish(ctx, model_id)


# ------------------------------------------------------------------------------------------- access

@api.route("/access/studies/<study_uid>", summary="My access to a study and what it lets me do")
def study_access_view(ctx: RequestContext, study_uid: str):
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    study = study_for(ctx.db, principal, study_uid, Action.READ)
    access = study_access(ctx.db, principal, study)
    return {"access": access, "actions": [str(a) for a in STUDY_ACTIONS[access]]}


@api.route("/access/models/<model_id>", summary="My access to a model and what it lets me do")
def model_access_view(ctx: RequestContext, model_id: str):
    principal = ctx.require_principal()
    require_patient_data_access(principal)
    model = model_for(ctx.db, principal, model_id, ModelAction.USE)
    access = model_access(ctx.db, principal, model)
    return {"access": access, "actions": [str(a) for a in MODEL_ACTIONS[access]]}
