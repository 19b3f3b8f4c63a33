"""The Alembic migrations and the ORM models describe the same schema, on SQLite and on PostgreSQL."""

import json
import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from app.migrate import alembic_config
from app.models import Base


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_model_table_exists(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_downgrade_to_base_and_back(tmp_path: object, database_url: str) -> None:
    # Run on a separate SQLite file so the shared test database keeps its data.
    url = f"sqlite:///{tmp_path}/roundtrip.db"
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    from app.db import make_engine

    engine = make_engine(url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_downgrade_writes_the_explanations_back(tmp_path: object, database_url: str) -> None:
    """0007 dropped the stored explanation (it is written when read); going back to 0006 writes each row's from
    its rule and components, as the service reads it."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from app.config import SEED_DATA_DIR
    from app.db import make_engine
    from app.matches import adapter, sync
    from app.matches.models import Match
    from app.seed import load_demo
    from app.taxonomy.service import load_project_catalogues

    url = f"sqlite:///{tmp_path}/explanations.db"
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            load_project_catalogues(session, SEED_DATA_DIR)
            load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
            sync.rebuild(session, processes=1)
            session.commit()
            read = {str(m.id): adapter.explanation(m) for m in session.query(Match)}
        assert len(read) > 100
        command.downgrade(config, "0006")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, explanation FROM matches")).all()
        written = {str(uuid.UUID(str(match_id))): json.loads(sentences) for match_id, sentences in rows}
        assert written == read
    finally:
        engine.dispose()
