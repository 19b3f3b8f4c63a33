"""The FastAPI application: routers, error handlers and start-up."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.auth.ratelimit import RateLimiter
from app.auth.router import router as auth_router
from app.auth.service import ensure_bootstrap_admin
from app.config import get_settings
from app.db import get_engine, session_scope
from app.deps import replay_response
from app.errors import install_error_handlers, unavailable
from app.idempotency.service import Replay
from app.inputs import reject_nul_characters
from app.limits import BodySizeLimit
from app.listings import bulk
from app.listings.router import router as listings_router
from app.logs import configure as configure_logs
from app.matches.engine import get_engine as get_matching_engine
from app.matches.live import live_index
from app.matches.router import router as matches_router
from app.middleware import install_middleware
from app.openapi import install_openapi
from app.organizations.router import router as organizations_router
from app.regions.router import router as regions_router
from app.taxonomy.router import router as taxonomy_router
from app.webhooks.delivery import Dispatcher
from app.webhooks.router import router as webhooks_router

API_PREFIX = "/api/v1"


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    get_matching_engine()  # fit the engine before the first request rather than during it
    with session_scope() as session:
        live_index(session)  # this process's matching index, loaded before the first write needs it
    # The index is a million long-lived objects at 100k listings: a full collection walking them holds the
    # process for ~0.6 s (measured), stalling every request in it. They stay; the collector can skip them.
    gc.freeze()
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
    settings = get_settings()
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute)  # per process: see app/auth/ratelimit.py
    app.add_exception_handler(Replay, replay_response)  # a retried POST with an Idempotency-Key
    bulk_path = f"{API_PREFIX}/listings/bulk"  # the bulk upload keeps its own, larger limit
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, ceilings={bulk_path: bulk.MAX_BYTES})
    install_openapi(app, API_PREFIX)  # documents every error response as problem+json
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(reject_nul_characters)])
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
    def ready(request: Request) -> JSONResponse:
        try:
            with get_engine().connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return unavailable(request)  # 503 problem with Retry-After
        return JSONResponse({"status": "ready"})

    configure_logs()  # JSON lines on stderr
    install_middleware(app, settings, API_PREFIX)  # last, so outermost: request id and headers on every answer
    return app
