"""How one user appears to another (sharing, model authors): the fields every function shows of a person."""

from __future__ import annotations

from functions.common.accounts.tables import User


def person(user: User) -> dict:
    return {"id": str(user.id), "email": user.email, "name": user.name, "role": user.role}
