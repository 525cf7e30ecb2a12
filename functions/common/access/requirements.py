"""Access requirements that routes declare, from the permission model: the pipeline checks them
once per request, before the view runs (`@api.route(..., access=PATIENT_DATA)`)."""

from __future__ import annotations

from functions.common.access.policy import require_patient_data_access
from functions.common.http import Access, RequestContext
from functions.common.security.signed_in import require_signed_in


def _patient_data(ctx: RequestContext) -> None:
    principal = ctx.require_principal()
    require_signed_in(principal)
    require_patient_data_access(principal)


PATIENT_DATA = Access("patient_data", check=_patient_data)
"""A caller still signed in (session open, account not deactivated: asked of PostgreSQL on every request)
who is an active researcher or health professional: routes that serve or change patient data, and sharing
(groups and shares exist only between such accounts)."""
