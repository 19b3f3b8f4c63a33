"""One fitted engine per process, built from the project's seed data on first use."""

from functools import lru_cache

from app.config import get_settings
from matching.engine import Engine


@lru_cache
def get_engine() -> Engine:
    return Engine.from_seed_data(get_settings().seed_data_dir).fit()
