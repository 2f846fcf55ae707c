"""Path and query parameter types shared by the routes: row ids and cursors are PostgreSQL bigints."""

from typing import Annotated

from fastapi import Path, Query

BIGINT_MAX = 2**63 - 1

#: A row id in the path (a deal, a store, ...).
RowId = Annotated[int, Path(ge=1, le=BIGINT_MAX)]
#: A keyset cursor: the ``next_after`` of the previous page (0 for the first).
After = Annotated[int, Query(ge=0, le=BIGINT_MAX, description="Cursor: `next_after` of the previous page.")]
