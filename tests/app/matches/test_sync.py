"""Keeping stored matches current in bulk: a rebuild writes only what changed and looks subscriptions up once."""

from fastapi.testclient import TestClient
from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session

from app.listings.models import Listing
from app.matches import sync
from app.matches.models import Match
from tests.app.matches.test_router import ASH, CEMENT_NEED
from tests.conftest import Api


def _stored(session: Session) -> dict[tuple[str, str], Match]:
    session.expire_all()
    return {(str(m.offer_id), str(m.need_id)): m for m in session.scalars(select(Match))}


def test_a_rebuild_writes_only_what_changed_and_keeps_ids(api: Api, client: TestClient, session: Session) -> None:
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    cement = api.organization(lat=50.25, lon=19.60, nace=["23.51"])
    lime = api.organization(lat=50.30, lon=19.70, nace=["23.51"])
    seller = api.key(power["id"])
    ash = api.listing(seller, **ASH)
    need = api.listing(api.key(cement["id"]), **CEMENT_NEED)
    other = api.listing(api.key(lime["id"]), **CEMENT_NEED)
    before = _stored(session)
    assert set(before) == {(ash["id"], need["id"]), (ash["id"], other["id"])}
    kept = before[(ash["id"], need["id"])]
    kept_id, kept_version, kept_score = kept.id, kept.version, kept.score

    # Behind the engine's back: one need asks for less, the other is paused. A rebuild catches up with both.
    session.execute(update(Listing).where(Listing.id == kept.need_id).values(quantity=500))
    session.execute(
        update(Listing).where(Listing.id == before[(ash["id"], other["id"])].need_id).values(status="paused")
    )
    session.commit()
    report = sync.rebuild(session)
    session.commit()
    assert (report.added, report.changed, report.removed) == (0, 1, 1)
    after = _stored(session)
    assert set(after) == {(ash["id"], need["id"])}
    changed = after[(ash["id"], need["id"])]
    assert changed.id == kept_id and changed.version == kept_version + 1 and changed.score < kept_score

    again = sync.rebuild(session)
    session.commit()
    assert (again.matches, again.added, again.changed, again.removed) == (1, 0, 0, 0)


def test_a_rebuild_looks_webhook_subscriptions_up_once(api: Api, client: TestClient, session: Session) -> None:
    power = api.organization(lat=50.08, lon=20.05, nace=["35.11"])
    seller = api.key(power["id"])
    api.listing(seller, **ASH)
    for i in range(4):
        firm = api.organization(lat=50.2 + i / 50, lon=19.6, nace=["23.51"])
        api.listing(api.key(firm["id"]), **CEMENT_NEED)
    session.execute(delete(Match))
    session.commit()
    statements: list[str] = []

    def seen(*args: object) -> None:
        statements.append(str(args[2]))

    bind = session.get_bind()
    event.listen(bind, "before_cursor_execute", seen)
    try:
        report = sync.rebuild(session)
    finally:
        event.remove(bind, "before_cursor_execute", seen)
    session.commit()
    assert report.added == 4
    assert sum("webhook_subscriptions" in s for s in statements) == 1
