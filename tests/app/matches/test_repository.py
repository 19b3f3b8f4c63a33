import json
import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.matches import repository


def _heap_fetches_reading_the_last_change(engine: Engine) -> int:
    """How many heap rows PostgreSQL visits to read the last change from the primary key index."""
    with engine.connect() as connection:
        # A table of a few rows is planned as a sequential scan once VACUUM gives it statistics; the scan a large
        # table gets is the one looked at.
        connection.execute(text("SET LOCAL enable_seqscan = off"))
        statement = "EXPLAIN (ANALYZE, FORMAT JSON) SELECT seq FROM listing_changes ORDER BY seq DESC LIMIT 1"
        plan = connection.scalar(text(statement))
    node = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    while node["Node Type"] != "Index Only Scan":
        node = node["Plans"][0]
    return int(node["Heap Fetches"])


def test_vacuum_lets_index_only_scans_skip_the_heap(engine: Engine, session: Session) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: VACUUM's visibility map is what its index-only scans need")
    with session.begin():
        repository.log_change(session, uuid.uuid4())
    assert _heap_fetches_reading_the_last_change(engine) > 0  # rows no VACUUM has seen: visibility unknown

    repository.vacuum(engine)

    assert _heap_fetches_reading_the_last_change(engine) == 0
