"""Access requirements that routes declare, from the permission model: the pipeline checks them
once per request, before the view runs (`@api.route(..., access=PATIENT_DATA)`)."""

from __future__ import annotations

from functions.common.access.policy import require_patient_data_access
from functions.common.http import Access, RequestContext


def _patient_data(ctx: RequestContext) -> None:
    require_patient_data_access(ctx.require_principal())


PATIENT_DATA = Access("patient_data", check=_patient_data)
"""An active researcher or health professional: routes that serve or change patient data, and
sharing (groups and shares exist only between such accounts)."""
