import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.auth.principal import Principal
from app.db import loop_session, session_scope
from app.deps import MAX_OFFSET, IfMatchDep, PageDep, PrincipalDep, SessionDep, etag
from app.errors import InvalidField
from app.listings import service as listings
from app.matches import export, service
from app.matches.repository import MatchFilter
from app.matches.schemas import (
    EventList,
    EventRead,
    MatchDetail,
    MatchDetailList,
    MatchList,
    MatchStatus,
    WorkflowUpdate,
)
from app.organizations.schemas import Moment
from matching.records import ResourceType

router = APIRouter(tags=["matches"])

Rule = Annotated[
    str | None,
    Query(pattern="^(same_code|text_neighbour|code_proximity|knowledge_route|activity_route|same_stream)$"),
]
Region = Annotated[str | None, Query(pattern=r"^[A-Z]{2}[0-9A-Z]{0,3}$", description="NUTS code prefix")]


@router.get("/listings/{listing_id}/matches", response_model=MatchList)
async def listing_matches(
    listing_id: uuid.UUID,
    principal: PrincipalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    max_distance_km: Annotated[float | None, Query(gt=0)] = None,
    rule: Rule = None,
) -> Response:
    """Ranked candidates for one listing, best first, each with its reasons and estimated impact."""
    asked = service.ListingPage(listing_id, min_score, max_distance_km, rule, limit, offset)
    # A kept page is answered here, on the event loop; building one takes a worker thread and its own session.
    with loop_session() as session:
        page = service.kept_listing_page(session, principal, asked)
    if page is None:
        page = await run_in_threadpool(_built_listing_page, principal, asked)
    # Sent as the service serialised it: the page is validated, and FastAPI would validate and encode it again.
    return Response(page, media_type="application/json")


def _built_listing_page(principal: Principal, asked: service.ListingPage) -> bytes:
    with session_scope() as session:
        return service.listing_page(session, principal, asked)


@router.get(
    "/matches",
    response_model=MatchDetailList,
    responses={200: {"content": {"text/csv": {}, "application/geo+json": {}}}},
)
def list_matches(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    region: Region = None,
    resource_type: ResourceType | None = None,
    ewc: Annotated[str | None, Query(max_length=12, description="EWC chapter, subchapter or code of the offer")] = None,
    nace: Annotated[str | None, Query(pattern=r"^\d{2}(\.\d{1,2})?$", description="NACE of either party")] = None,
    min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    status: MatchStatus | None = None,
    organization_id: uuid.UUID | None = None,
    bbox: Annotated[str | None, Query(description="west,south,east,north in degrees; both ends inside")] = None,
    created_since: Moment | None = None,
    sort: Literal["score", "impact", "distance", "date"] = "score",
    format: Literal["json", "csv", "geojson"] = "json",
) -> MatchDetailList | StreamingResponse:
    """The agency view: every match the caller may see, filtered and sorted; `format=csv|geojson` streams all."""
    code = listings.ewc_prefix(ewc) if ewc else None
    f = MatchFilter(region, resource_type, code, nace, min_score, status, organization_id, _bbox(bbox), created_since)
    if format == "csv":
        lines = export.csv_lines(principal, service.rows_for_export(principal, f, sort))
        return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=_attachment("matches.csv"))
    if format == "geojson":
        chunks = export.geojson_chunks(principal, service.rows_for_export(principal, f, sort))
        return StreamingResponse(chunks, media_type="application/geo+json", headers=_attachment("matches.geojson"))
    items, total = service.page(session, principal, f, sort=sort, limit=page.limit, offset=page.offset)
    return MatchDetailList(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/matches/{match_id}")
def get_match(match_id: uuid.UUID, session: SessionDep, principal: PrincipalDep, response: Response) -> MatchDetail:
    row = service.get(session, principal, match_id)
    response.headers["ETag"] = etag(row[0].version)
    return service.detail(session, principal, row)


@router.patch("/matches/{match_id}")
def update_match(
    match_id: uuid.UUID,
    body: WorkflowUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    if_match: IfMatchDep,
    response: Response,
) -> MatchDetail:
    """A party's next step: interested, in_contact, realised (quantity, start date) or declined (reason).
    Needs If-Match with the match's ETag (from GET /matches/{id})."""
    row = service.update(session, principal, match_id, body, if_match)
    response.headers["ETag"] = etag(row[0].version)
    return service.detail(session, principal, row)


@router.get("/matches/{match_id}/events")
def match_events(match_id: uuid.UUID, session: SessionDep, principal: PrincipalDep) -> EventList:
    events = service.events(session, principal, match_id)
    return EventList(items=[EventRead.model_validate(e, from_attributes=True) for e in events], total=len(events))


def _bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    if raw is None:
        return None
    try:
        west, south, east, north = (float(part) for part in raw.split(","))
    except ValueError:
        raise InvalidField("bbox", "expected west,south,east,north, e.g. 19.5,49.8,20.4,50.3") from None
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidField("bbox", "needs west <= east within [-180, 180] and south <= north within [-90, 90]")
    return west, south, east, north


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}
