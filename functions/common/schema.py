"""Every table of the platform in one metadata: what the Alembic migrations must build.

Each domain keeps its tables beside its code; this module only gathers them (for Alembic's
environment and the test that the migrations match the tables).
"""

from functions.common.access import tables as access_tables  # noqa: F401  (registers the tables)
from functions.common.accounts import tables as account_tables  # noqa: F401
from functions.common.ai_models import jobs as model_jobs  # noqa: F401
from functions.common.ai_models import tables as model_tables  # noqa: F401
from functions.common.dicom import (
    index,  # noqa: F401
    strays,  # noqa: F401
)
from functions.common.platform.db import Base
from functions.common.security import audit  # noqa: F401

metadata = Base.metadata
