"""The Alembic migrations and the ORM models describe the same schema, on SQLite and on PostgreSQL."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, make_url, select, text
from sqlalchemy.orm import Session

from app.config import SEED_DATA_DIR
from app.db import make_engine
from app.matches import adapter, sync
from app.matches.models import Match
from app.migrate import alembic_config
from app.models import Base
from app.seed import load_demo
from app.taxonomy.service import load_project_catalogues


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
    engine = make_engine(url)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _scratch_database(database_url: str, tmp_path: Path) -> str:
    """An empty database of the test's dialect beside the shared one, which keeps its data."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/scratch.db"
    configured = make_url(database_url)
    name = f"{configured.database}_scratch"
    server = make_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        server.dispose()
    return configured.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def demo_at_head(tmp_path: Path, database_url: str) -> Iterator[tuple[Config, Engine]]:
    """A scratch database at head holding the demo region and its matches, with its Alembic config."""
    url = _scratch_database(database_url, tmp_path)
    config = alembic_config(url)
    command.upgrade(config, "head")
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            load_project_catalogues(session, SEED_DATA_DIR)
            load_demo(session, SEED_DATA_DIR / "demo" / "region.json")
            sync.rebuild(session, processes=1)
            session.commit()
        yield config, engine
    finally:
        engine.dispose()


def test_a_downgrade_writes_the_explanations_back(demo_at_head: tuple[Config, Engine]) -> None:
    """0007 dropped the stored explanation (it is written when read); going back to 0006 writes each row's from
    its rule and components, as the service reads it."""
    config, engine = demo_at_head
    with Session(engine) as session:
        matches, said = _matches_and_sentences(session)
        read = {str(m.id): adapter.explanation(m, said.get(m.id)) for m in matches}
    assert len(read) > 100
    command.downgrade(config, "0006")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, CAST(explanation AS TEXT) FROM matches")).all()
    written = {str(uuid.UUID(str(match_id))): json.loads(sentences) for match_id, sentences in rows}
    assert written == read


def test_0009_compacts_the_match_json_and_a_downgrade_writes_it_back(demo_at_head: tuple[Config, Engine]) -> None:
    """0009 stores comparisons as lists and the impact's route instead of its basis. Going back to 0008 writes the
    objects and the basis the service shows; coming forward again restores the same text, row for row."""
    config, engine = demo_at_head
    with Session(engine) as session:
        matches, said = _matches_and_sentences(session)
        shown = {m.id: (adapter.components_of(m, said.get(m.id)), adapter.impact_of(m)) for m in matches}
    compact = _json_of_matches(engine)
    assert len(compact) > 100
    assert any(impact["route"] for _, impact in shown.values())
    assert any(impact["route"] is None for _, impact in shown.values())
    command.downgrade(config, "0008")
    expanded = _json_of_matches(engine)
    for match_id, (components, impact) in shown.items():
        old_components, old_impact = (json.loads(text) for text in expanded[match_id])
        assert old_components == components
        assert old_impact == {name: value for name, value in impact.items() if name != "route"}
    command.upgrade(config, "head")
    assert _json_of_matches(engine) == compact


def test_0010_stores_no_reasons_for_matches_no_party_acted_on(demo_at_head: tuple[Config, Engine]) -> None:
    """At 0010 a match no party acted on keeps no reasons, and one a party acted on keeps them. Going back to 0009
    writes every row's reasons as the service shows them; coming forward again restores the same text."""
    config, engine = demo_at_head
    with Session(engine) as session:
        acted = session.scalars(select(Match).order_by(Match.id)).first()
        assert acted is not None
        adapter.keep_sentences(session, acted)  # as when a party acts on it
        acted.offer_state = acted.status = "interested"
        session.commit()
        matches, said = _matches_and_sentences(session)
        shown = {m.id: adapter.components_of(m, said.get(m.id)) for m in matches}
    stored = _json_of_matches(engine)
    lengths = {match_id: {len(c) for c in json.loads(components)} for match_id, (components, _) in stored.items()}
    assert lengths.pop(acted.id) == {6}
    assert set(map(frozenset, lengths.values())) == {frozenset({5})}
    command.downgrade(config, "0009")
    for match_id, (components, _) in _json_of_matches(engine).items():
        assert [dict(zip(COMPARISON_FIELDS, c, strict=True)) for c in json.loads(components)] == shown[match_id]
    command.upgrade(config, "head")
    assert _json_of_matches(engine) == stored


COMPARISON_FIELDS = ("name", "value", "weight", "contribution", "level", "reason")


def _matches_and_sentences(session: Session) -> tuple[list[Match], dict[uuid.UUID, tuple[str, ...]]]:
    matches = list(session.scalars(select(Match)))
    return matches, adapter.sentences_of(session, matches)


def _json_of_matches(engine: Engine) -> dict[uuid.UUID, tuple[str, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT id, CAST(components AS TEXT), CAST(impact AS TEXT) FROM matches"))
        return {uuid.UUID(str(match_id)): (components, impact) for match_id, components, impact in rows}
