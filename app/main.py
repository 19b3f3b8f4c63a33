"""The FastAPI application: routers, error handlers and start-up."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.auth.router import router as auth_router
from app.auth.service import ensure_bootstrap_admin
from app.config import get_settings
from app.db import get_engine, session_scope
from app.errors import install_error_handlers
from app.listings.router import router as listings_router
from app.matches.engine import get_engine as get_matching_engine
from app.matches.router import router as matches_router
from app.organizations.router import router as organizations_router
from app.regions.router import router as regions_router
from app.taxonomy.router import router as taxonomy_router
from app.webhooks.delivery import Dispatcher
from app.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    get_matching_engine()  # fit the engine before the first request rather than during it
    secret = get_settings().bootstrap_admin_key
    if secret:
        with session_scope() as session:
            ensure_bootstrap_admin(session, secret)
    webhooks = Dispatcher().start()  # sends webhook deliveries from a background thread (if enabled)
    yield
    webhooks.stop()


def create_app() -> FastAPI:
    app = FastAPI(
        title="Symbioza",
        version="1.0.0",
        summary="Industrial-symbiosis matchmaking: by-products and needs, ranked and explained.",
        lifespan=_lifespan,
    )
    install_error_handlers(app)
    api = APIRouter(prefix=API_PREFIX)
    for router in (
        organizations_router,
        auth_router,
        listings_router,
        matches_router,
        regions_router,
        taxonomy_router,
        webhooks_router,
    ):
        api.include_router(router)
    app.include_router(api)

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], responses={503: {"description": "The database cannot be reached"}})
    def ready() -> JSONResponse:
        try:
            with get_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse(
                {
                    "type": "about:blank",
                    "title": "Service unavailable",
                    "status": 503,
                    "detail": "The database cannot be reached.",
                },
                status_code=503,
                media_type="application/problem+json",
            )
        return JSONResponse({"status": "ready"})

    return app
