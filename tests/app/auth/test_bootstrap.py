import pytest
from fastapi.testclient import TestClient

from app import config
from app.main import create_app
from tests.conftest import bearer

BOOTSTRAP = "sbz_bootstrap_" + "k" * 40


def test_bootstrap_admin_key_is_created_at_start_up(
    database_url: str, monkeypatch: pytest.MonkeyPatch, engine: object
) -> None:
    monkeypatch.setenv("SYMBIOZA_BOOTSTRAP_ADMIN_KEY", BOOTSTRAP)
    config.get_settings.cache_clear()
    try:
        for _ in range(2):  # a restart finds the key and leaves it alone
            with TestClient(create_app()) as client:
                me = client.get("/api/v1/me", headers=bearer(BOOTSTRAP))
                assert me.status_code == 200
                assert me.json()["role"] == "admin"
    finally:
        monkeypatch.delenv("SYMBIOZA_BOOTSTRAP_ADMIN_KEY")
        config.get_settings.cache_clear()


def test_a_short_bootstrap_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYMBIOZA_BOOTSTRAP_ADMIN_KEY", "too-short")
    with pytest.raises(ValueError, match="bootstrap_admin_key"):
        config.Settings()
