"""Brings a database to the current schema (Alembic) and the current code catalogues."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from app.config import PROJECT_ROOT, get_settings
from app.db import make_engine, session_scope
from app.taxonomy.service import ImportReport, load_project_catalogues


def alembic_config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None) -> None:
    url = url or get_settings().database_url
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()


def load_catalogues(seed_dir: Path | None = None) -> tuple[ImportReport, ImportReport]:
    with session_scope() as session:
        return load_project_catalogues(session, seed_dir or get_settings().seed_data_dir)
