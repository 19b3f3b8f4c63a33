"""Service settings, read once from the environment (prefix SYMBIOZA_)."""

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED_DATA_DIR = PROJECT_ROOT / "seed_data"
_ORIGIN = re.compile(r"https?://[^/\s]+")  # scheme://host[:port], nothing after: what browsers send in Origin


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SYMBIOZA_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./symbioza.db"
    # When set, an admin key with exactly this secret exists after start-up (for first access and CI).
    bootstrap_admin_key: str | None = Field(default=None, min_length=32)
    page_size_default: int = 50
    page_size_max: int = 200
    seed_data_dir: Path = SEED_DATA_DIR
    # Matches stored per listing: each listing's best this many, as offer and as need (app/matches/shortlist.py).
    matches_per_listing: int = Field(default=25, ge=1)
    # Processes a full rebuild enriches and ranks in (app/matches/forked.py): 0 means one per core.
    rebuild_processes: int = Field(default=0, ge=0)
    # Pages of GET /listings/{id}/matches and totals of GET /matches kept by each server process
    # (app/matches/page_cache.py); 0 turns both off.
    page_cache_mb: int = Field(default=128, ge=0)
    # Webhooks: a background thread in each API process sends due deliveries (see app/webhooks/delivery.py).
    webhooks_enabled: bool = True
    webhook_poll_seconds: float = Field(default=1.0, gt=0)
    webhook_max_attempts: int = Field(default=6, ge=1)
    webhook_backoff_seconds: float = Field(default=2.0, ge=0)
    # Requests per minute and API key, counted in each process's memory (app/auth/ratelimit.py); 0 turns it off.
    rate_limit_per_minute: int = Field(default=0, ge=0)
    # Request bodies larger than this are refused with 413 (POST /listings/bulk has its own 5 MB ceiling).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    # How long the answer to a POST with an Idempotency-Key is kept for retries.
    idempotency_ttl_seconds: int = Field(default=24 * 3600, ge=1)

    # Browser origins allowed to call the API from their pages, e.g. https://app.example.org (a JSON list or
    # comma-separated). Empty: no CORS headers at all, so browsers keep other sites' scripts out.
    cors_origins: Annotated[list[str], NoDecode] = []

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value) if value.strip().startswith("[") else [v for v in value.split(",") if v.strip()]
        if isinstance(value, list):
            value = [str(v).strip().rstrip("/") for v in value]
            for origin in value:
                if not _ORIGIN.fullmatch(origin):
                    raise ValueError(f"{origin!r} is not an origin such as https://app.example.org")
        return value

    @field_validator("bootstrap_admin_key", mode="before")
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        return None if value == "" else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
