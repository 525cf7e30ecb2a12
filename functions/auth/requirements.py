"""Access requirements the auth routes declare; the pipeline checks them before the view runs.

`ACTIVE_ACCOUNT`: a caller still signed in (the token's session open, checked in PostgreSQL on every
request) whose account is not deactivated. `ADMIN`: the same, an administrator who uses a second factor."""

from __future__ import annotations

from functions.auth import login
from functions.common.accounts.tables import User
from functions.common.http import Access, RequestContext
from functions.common.security.signed_in import require_signed_in


def signed_in_user(ctx: RequestContext) -> User:
    """The caller's account row, for views of `ACTIVE_ACCOUNT` routes (whose requirement checked that it is
    still signed in and not deactivated)."""
    return ctx.db.get(User, ctx.require_principal().user_id)


def _active_account(ctx: RequestContext) -> None:
    require_signed_in(ctx.require_principal())


def _admin(ctx: RequestContext) -> None:
    login.require_admin(ctx.db, ctx.require_principal())


ACTIVE_ACCOUNT = Access("active_account", check=_active_account)
ADMIN = Access("admin", check=_admin)
