"""Text lengths checked in the service layer, so a caller that does not go through the API's schemas (the
sync push) gets a 422 (quarantined on push) instead of a value the database cannot store."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fieldservice.errors import ValidationFailed


def check_lengths(data: Mapping[str, Any], model: Any, names: Iterable[str]) -> None:
    """Raise ValidationFailed naming every field of `data` longer than its column in `model` allows (the
    limit is the column's String length, so it cannot drift from the schema; None and absent pass)."""
    columns = model.__table__.c
    limits = {name: columns[name].type.length for name in names}
    too_long = {name: [f"at most {limit} characters"] for name, limit in limits.items()
                if isinstance(data.get(name), str) and len(data[name]) > limit}
    if too_long:
        raise ValidationFailed(f"too long: {', '.join(f'{k} ({v[0]})' for k, v in too_long.items())}",
                               errors={"json": too_long})
