import functools
from collections.abc import Sequence

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from app.taxonomy.models import EwcCode, NaceCode


def get_ewc(session: Session, code: str) -> EwcCode | None:
    return session.get(EwcCode, code)


def all_ewc(session: Session) -> dict[str, EwcCode]:
    return {row.code: row for row in session.scalars(select(EwcCode))}


def all_nace(session: Session) -> dict[str, NaceCode]:
    return {row.code: row for row in session.scalars(select(NaceCode))}


def search_ewc(
    session: Session,
    *,
    prefix: str | None,
    level: str | None,
    hazardous: bool | None,
    q: str | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[EwcCode], int]:
    query = select(EwcCode)
    if prefix:
        query = query.where(EwcCode.code.startswith(prefix))
    if level:
        query = query.where(EwcCode.level == level)
    if hazardous is not None:
        query = query.where(EwcCode.hazardous == hazardous)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(or_(func.lower(EwcCode.label_en).like(pattern), func.lower(EwcCode.label_pl).like(pattern)))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(EwcCode.code).limit(limit).offset(offset)).all()
    return rows, total


def search_nace(
    session: Session, *, prefix: str | None, level: str | None, q: str | None, limit: int, offset: int
) -> tuple[Sequence[NaceCode], int]:
    query = select(NaceCode)
    if prefix:
        query = query.where(NaceCode.code.startswith(prefix))
    if level:
        query = query.where(NaceCode.level == level)
    if q:
        pattern = f"%{q.lower()}%"
        query = query.where(
            or_(func.lower(NaceCode.label_en).like(pattern), func.lower(NaceCode.label_pl).like(pattern))
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(NaceCode.code).limit(limit).offset(offset)).all()
    return rows, total


def labels(session: Session, codes: set[str]) -> dict[str, str]:
    """The English labels of these EWC codes, remembered by each process once read: the catalogue changes only
    when `symbioza migrate` loads a new edition (a changed label shows after a restart)."""
    if not codes:
        return {}
    every = _every_label(session.get_bind().engine)
    if not codes <= every.keys():
        rows = session.execute(select(EwcCode.code, EwcCode.label_en).where(EwcCode.code.in_(codes)))
        every.update(dict.fromkeys(codes, None) | {code: label for code, label in rows})
    return {code: label for code in codes if (label := every[code]) is not None}


@functools.cache
def _every_label(engine: Engine) -> dict[str, str | None]:
    """The labels read so far from one database (None: no such code), by engine: its URL costs more to hash."""
    return {}


def get_many_ewc(session: Session, codes: list[str]) -> dict[str, EwcCode]:
    return {row.code: row for row in session.scalars(select(EwcCode).where(EwcCode.code.in_(codes)))}
