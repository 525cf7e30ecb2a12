"""limit/offset from a query string, one rule for every list (admin, study list, QIDO)."""

from __future__ import annotations

import pytest

from functions.common.http import paging
from functions.common.platform.errors import ValidationFailed


def test_defaults_and_given_values():
    assert paging({}, default_limit=25, max_limit=100) == (25, 0)
    assert paging({"limit": "100", "offset": "40"}, default_limit=25, max_limit=100) == (100, 40)


@pytest.mark.parametrize("args, field, message", [
    ({"limit": "ten"}, "limit", "must be a whole number"),
    ({"offset": "1.5"}, "offset", "must be a whole number"),
    ({"limit": "0"}, "limit", "must be from 1 to 100"),
    ({"limit": "101"}, "limit", "must be from 1 to 100"),
    ({"offset": "-1"}, "offset", "must be from 0 to 2147483647"),
    # Found by the fuzzer: an offset beyond PostgreSQL's bigint was a 500.
    ({"offset": "3697398607332480909312"}, "offset", "must be from 0 to 2147483647"),
])
def test_bad_values_name_the_field(args, field, message):
    with pytest.raises(ValidationFailed) as e:
        paging(args, default_limit=25, max_limit=100)
    assert e.value.errors == [{"field": field, "message": message}]
