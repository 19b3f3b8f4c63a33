"""db.transaction_info: what a write remembers between its steps lives exactly as long as its transaction."""

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.db import transaction_info


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
