import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import db


@pytest.fixture
def scratch_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A SQLite file for the benchmark code, which points the process at its database through the environment:
    the previous database comes back afterwards, for the tests that follow."""
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    monkeypatch.setenv("SYMBIOZA_DATABASE_URL", os.environ.get("SYMBIOZA_DATABASE_URL", url))
    yield url
    monkeypatch.undo()
    db.forget_engines()
