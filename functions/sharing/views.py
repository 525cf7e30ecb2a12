"""Routes of the `sharing` function: groups, study and model shares, publication, access queries.
The contract is docs/api/sharing.md. Every route is for accounts with access to patient data; the
share and access routes are declared once for both kinds of resource (studies and models)."""

from __future__ import annotations

from functions.common.access.policy import SCOPES
from functions.common.access.requirements import PATIENT_DATA
from functions.common.http import CREATED, EMAIL, NO_CONTENT, Api, RequestContext, json_schema, one_of
from functions.sharing import groups, shares
from functions.sharing.shares import KINDS, Grantee, Kind

api = Api("sharing", prefix="/api", home="/api/sharing", title="MedCloudCare sharing")

NAME = {"type": "string", "minLength": 1, "maxLength": 400}
MEMBER_ROLE = {"enum": ["member", "manager"]}
UUID_TEXT = {"type": "string", "maxLength": 64}
SHARE_BODY = json_schema({"email": EMAIL, "group_id": UUID_TEXT, "level": {"type": "string", "maxLength": 16}},
                         required=["level"])
LEVEL_BODY = json_schema({"level": {"type": "string", "maxLength": 16}})
GROUP = "/groups/<uuid:group_id>"
MEMBER = GROUP + "/members/<uuid:user_id>"


# ------------------------------------------------------------------------------------------- groups

@api.route("/groups", access=PATIENT_DATA, summary="The groups I belong to")
def list_groups(ctx: RequestContext):
    return groups.list_groups(ctx.db, ctx.principal)


@api.route("/groups", ("POST",), access=PATIENT_DATA, summary="Create a group (I own it)",
           body=json_schema({"name": NAME}), answers=CREATED)
def create_group(ctx: RequestContext):
    return groups.create_group(ctx.db, ctx.principal, name=ctx.body["name"], client_ip=ctx.client_ip)


@api.route(GROUP, access=PATIENT_DATA, summary="A group I belong to, with its members")
def get_group(ctx: RequestContext, group_id):
    return groups.get_group(ctx.db, ctx.principal, group_id)


@api.route(GROUP, ("PATCH",), access=PATIENT_DATA, summary="Rename (owner, managers)",
           body=json_schema({"name": NAME}))
def rename_group(ctx: RequestContext, group_id):
    return groups.rename_group(ctx.db, ctx.principal, group_id, name=ctx.body["name"], client_ip=ctx.client_ip)


@api.route(GROUP, ("DELETE",), access=PATIENT_DATA, summary="Delete the group and its shares (owner)",
           answers=NO_CONTENT)
def delete_group(ctx: RequestContext, group_id):
    groups.delete_group(ctx.db, ctx.principal, group_id, client_ip=ctx.client_ip)


@api.route(GROUP + "/members", ("POST",), access=PATIENT_DATA, summary="Add a member by email (owner, managers)",
           body=json_schema({"email": EMAIL, "role": MEMBER_ROLE}, required=["email"]), answers=CREATED)
def add_member(ctx: RequestContext, group_id):
    return groups.add_member(ctx.db, ctx.principal, group_id, email=ctx.body["email"],
                             role=ctx.body.get("role", "member"), client_ip=ctx.client_ip)


@api.route(MEMBER, ("PATCH",), access=PATIENT_DATA, summary="Make a member a manager or back (owner)",
           body=json_schema({"role": MEMBER_ROLE}))
def change_role(ctx: RequestContext, group_id, user_id):
    return groups.change_role(ctx.db, ctx.principal, group_id, user_id, role=ctx.body["role"],
                              client_ip=ctx.client_ip)


@api.route(MEMBER, ("DELETE",), access=PATIENT_DATA, summary="Remove a member, or leave", answers=NO_CONTENT)
def remove_member(ctx: RequestContext, group_id, user_id):
    groups.remove_member(ctx.db, ctx.principal, group_id, user_id, client_ip=ctx.client_ip)


@api.route(GROUP + "/owner", ("POST",), access=PATIENT_DATA, summary="Hand ownership to a member (owner)",
           body=json_schema({"user_id": UUID_TEXT}))
def transfer_ownership(ctx: RequestContext, group_id):
    return groups.transfer_ownership(ctx.db, ctx.principal, group_id, to_user=ctx.body["user_id"],
                                     client_ip=ctx.client_ip)


# ------------------------------------------------------------------------------- shares and access

def _declare_share_routes(kind: Kind) -> None:
    """The routes of one kind of resource: who has access, share, change a level, revoke, my access."""
    resource = f"/shares/{kind.plural}/<{kind.param}>"
    share = resource + "/<uuid:share_id>"
    resource_id = kind.param.split(":")[1]

    @api.route(resource, access=PATIENT_DATA, summary=f"Who has access to my {kind.name}")
    def list_shares(ctx: RequestContext, **path):
        return shares.list_shares(ctx.db, ctx.principal, kind, path[resource_id])

    @api.route(resource, ("POST",), access=PATIENT_DATA, summary=f"Share my {kind.name} with a user or group",
               body=SHARE_BODY, answers=CREATED)
    def create_share(ctx: RequestContext, **path):
        grantee = Grantee(email=ctx.body.get("email"), group_id=ctx.body.get("group_id"))
        return shares.create_share(ctx.db, ctx.principal, kind, path[resource_id], grantee=grantee,
                                   level=ctx.body["level"], client_ip=ctx.client_ip)

    @api.route(share, ("PATCH",), access=PATIENT_DATA, summary=f"Change a {kind.name} share's level", body=LEVEL_BODY)
    def change_share(ctx: RequestContext, share_id, **path):
        return shares.change_level(ctx.db, ctx.principal, kind, path[resource_id], share_id, level=ctx.body["level"],
                                   client_ip=ctx.client_ip)

    @api.route(share, ("DELETE",), access=PATIENT_DATA, summary=f"Revoke a {kind.name} share", answers=NO_CONTENT)
    def revoke_share(ctx: RequestContext, share_id, **path):
        shares.revoke(ctx.db, ctx.principal, kind, path[resource_id], share_id, client_ip=ctx.client_ip)

    @api.route(f"/access/{kind.plural}/<{kind.param}>", access=PATIENT_DATA,
               summary=f"My access to a {kind.name} and what it lets me do")
    def my_access(ctx: RequestContext, **path):
        return shares.my_access(ctx.db, ctx.principal, kind, path[resource_id])


@api.route("/shares/models", access=PATIENT_DATA,
           summary="Models shared with me or published (scope=shared), or all I may use",
           query={"scope": {"enum": list(SCOPES)}})
def models_shared(ctx: RequestContext):
    scope = one_of(ctx.args, "scope", SCOPES, default="shared")
    return shares.models_shared_with_me(ctx.db, ctx.principal, scope=scope)


for _kind in KINDS:
    _declare_share_routes(_kind)


# -------------------------------------------------------------------------------------- publication

@api.route("/shares/models/<uuid:model_id>/publication", ("PUT",), access=PATIENT_DATA,
           summary="Publish a version to all health professionals",
           body=json_schema({"version": {"type": "integer", "minimum": 1}}))
def publish_model(ctx: RequestContext, model_id):
    return shares.publish(ctx.db, ctx.principal, model_id, version=ctx.body["version"], client_ip=ctx.client_ip)


@api.route("/shares/models/<uuid:model_id>/publication", ("DELETE",), access=PATIENT_DATA,
           summary="Withdraw the published version", answers=NO_CONTENT)
def unpublish_model(ctx: RequestContext, model_id):
    shares.unpublish(ctx.db, ctx.principal, model_id, client_ip=ctx.client_ip)
