"""Service settings, read once from the environment (prefix SYMBIOZA_)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED_DATA_DIR = PROJECT_ROOT / "seed_data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYMBIOZA_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./symbioza.db"
    # When set, an admin key with exactly this secret exists after start-up (for first access and CI).
    bootstrap_admin_key: str | None = Field(default=None, min_length=32)
    page_size_default: int = 50
    page_size_max: int = 200
    seed_data_dir: Path = SEED_DATA_DIR
    # Webhooks: a background thread in each API process sends due deliveries (see app/webhooks/delivery.py).
    webhooks_enabled: bool = True
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_max_attempts: int = Field(default=6, ge=1)
    webhook_backoff_seconds: float = Field(default=2.0, ge=0)

    @field_validator("bootstrap_admin_key", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
