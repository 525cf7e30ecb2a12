"""Access requirements the auth routes declare; the pipeline checks them before the view runs.

`ACTIVE_ACCOUNT`: a signed-in account that still exists and is not deactivated (a deactivated
account is treated as signed out). `ADMIN`: an administrator who uses a second factor."""

from __future__ import annotations

from functions.auth import login
from functions.common.accounts.tables import User
from functions.common.http import Access, RequestContext


def signed_in_user(ctx: RequestContext) -> User:
    """The caller's account row, for views of `ACTIVE_ACCOUNT` routes (the session's identity map keeps the
    row the requirement loaded, so this is no second query)."""
    return login.active_user(ctx.db, ctx.require_principal())


def _active_account(ctx: RequestContext) -> None:
    signed_in_user(ctx)


def _admin(ctx: RequestContext) -> None:
    login.require_admin(ctx.db, ctx.require_principal())


ACTIVE_ACCOUNT = Access("active_account", check=_active_account)
ADMIN = Access("admin", check=_admin)
