"""db.transaction_info: what a write remembers between its steps lives exactly as long as its transaction; the
event loop's own connection never makes it wait."""

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.db import get_loop_engine, json_dumps, json_loads, transaction_info


def test_transaction_info_is_forgotten_when_the_transaction_commits_or_rolls_back(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        transaction_info(session)["seen"] = 1
        assert transaction_info(session) == {"seen": 1}  # the same dict for the rest of the transaction
        session.commit()
        assert transaction_info(session) == {}

        session.execute(text("SELECT 1"))
        transaction_info(session)["seen"] = 2
        session.rollback()
        assert transaction_info(session) == {}


def test_a_savepoint_ending_keeps_what_the_outer_transaction_remembers(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(text("SELECT 1"))
        transaction_info(session)["seen"] = 3
        with session.begin_nested():
            session.execute(text("SELECT 1"))
        assert transaction_info(session) == {"seen": 3}
        session.rollback()


def test_a_request_whose_loop_connection_is_taken_fails_at_once_instead_of_blocking(
    client: TestClient, admin_key: str
) -> None:
    """The event loop's one connection is free whenever the loop asks for it; were it held (a bug: something awaited
    while holding it), waiting would block the loop and with it whoever holds the connection."""
    headers = {"Authorization": f"Bearer {admin_key}"}
    with get_loop_engine().connect():
        started = time.perf_counter()
        refused = client.get("/api/v1/me", headers=headers)
        assert time.perf_counter() - started < 5
    assert refused.status_code == 503
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/me", headers=headers).status_code == 200


def test_json_columns_take_what_orjson_alone_refuses() -> None:
    """numpy's numbers (the engine computes some scores with numpy) and integers beyond 64 bits are written, and
    read back as the same values; what no JSON can hold is refused, as json.dumps refuses it."""
    import numpy as np

    value = {"score": np.float64(0.25), "count": 2**70, "label": "Zn ≥ 5 °C"}
    assert json_loads(json_dumps(value)) == {"score": 0.25, "count": 2**70, "label": "Zn ≥ 5 °C"}
    # One text for one value whatever its number types: a rebuild compares stored JSON as text.
    assert json_dumps({"a": [1, np.float64(2.5)]}) == json_dumps({"a": [1, 2.5]}) == '{"a":[1,2.5]}'
    with pytest.raises(TypeError):
        json_dumps({"when": object()})
