from typing import Annotated, Literal

from fastapi import APIRouter, Query

from app.deps import IdempotencyDep, PageDep, PrincipalDep, SessionDep
from app.errors import NotFound
from app.matches.engine import get_engine
from app.taxonomy import repository
from app.taxonomy.schemas import EwcList, EwcRead, NaceList, NaceRead, SuggestionList, SuggestionRead, SuggestRequest
from matching.taxonomy import normalise_ewc

router = APIRouter(prefix="/taxonomy", tags=["taxonomy"])


@router.get("/ewc")
def list_ewc(
    session: SessionDep,
    _: PrincipalDep,
    page: PageDep,
    prefix: Annotated[
        str | None, Query(max_length=12, description="Chapter or subchapter, e.g. '10' or '10 01'")
    ] = None,
    level: Literal["chapter", "subchapter", "entry"] | None = None,
    hazardous: bool | None = None,
    q: Annotated[
        str | None, Query(min_length=2, max_length=100, description="Words in the English or Polish label")
    ] = None,
) -> EwcList:
    code_prefix = normalise_ewc(prefix) if prefix else None
    if prefix and code_prefix is None:
        raise NotFound(f"{prefix!r} is not an EWC chapter or subchapter")
    rows, total = repository.search_ewc(
        session,
        prefix=code_prefix,
        level=level,
        hazardous=hazardous,
        q=q,
        limit=page.limit,
        offset=page.offset,
    )
    items = [EwcRead.model_validate(row, from_attributes=True) for row in rows]
    return EwcList(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/ewc/{code}")
def get_ewc(code: str, session: SessionDep, _: PrincipalDep) -> EwcRead:
    normal = normalise_ewc(code)
    row = repository.get_ewc(session, normal) if normal else None
    if row is None:
        raise NotFound(f"No EWC code {code!r} in the catalogue")
    return EwcRead.model_validate(row, from_attributes=True)


@router.get("/nace")
def list_nace(
    session: SessionDep,
    _: PrincipalDep,
    page: PageDep,
    prefix: Annotated[str | None, Query(max_length=8, description="Code prefix, e.g. '23' or '23.5'")] = None,
    level: Literal["section", "division", "class"] | None = None,
    q: Annotated[str | None, Query(min_length=2, max_length=100)] = None,
) -> NaceList:
    rows, total = repository.search_nace(session, prefix=prefix, level=level, q=q, limit=page.limit, offset=page.offset)
    items = [NaceRead.model_validate(row, from_attributes=True) for row in rows]
    return NaceList(items=items, total=total, limit=page.limit, offset=page.offset)


@router.post("/suggest")
def suggest_ewc(
    body: SuggestRequest, session: SessionDep, _: PrincipalDep, idempotency: IdempotencyDep
) -> SuggestionList:
    """The most likely EWC entries for a short free text in any catalogue language, with the words that led there."""
    suggestions = get_engine().suggest(body.text, body.k)
    entries = repository.get_many_ewc(session, [s.code for s in suggestions])
    items = [
        SuggestionRead(
            code=s.code,
            label_en=entries[s.code].label_en,
            label_pl=entries[s.code].label_pl,
            hazardous=entries[s.code].hazardous,
            confidence=s.confidence,
            matched_words=list(s.matched_words),
        )
        for s in suggestions
        if s.code in entries
    ]
    return idempotency.remember(SuggestionList(items=items))
