"""`symbioza import listings`: a firm's CSV file registered from the command line, on a fresh SQLite database."""

import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from app import db
from app.cli import build_parser, main
from app.matches.models import ListingChange, ListingConcept, Match
from app.models import Listing, Organization
from tests.app.test_cli import _count, fresh_database  # noqa: F401  (a fixture: pytest finds it here by name)

pytestmark = pytest.mark.usefixtures("fresh_database")

GOOD = (
    "kind;resource_type;title;description;ewc;quantity;unit;period;properties.moisture_pct\n"
    "offer;material;Popiół lotny z kotłów pyłowych;Suchy popiół, odbiór z silosu;10 01 02;12 000;t;year;0,5\n"
    "offer;material;Gips z odsiarczania spalin;Siarczan wapnia;10 01 05;30000;t;year;10\n"
)
MIXED = (
    "kind,resource_type,title,quantity,unit,period\n"
    "offer,material,Coal fly ash,1000,t,year\n"
    "offer,material,Negative ash,-5,t,year\n"
    "need,energy,Ciepło do suszarni,5000,t,fortnight\n"
    "offer,material,Boiler slag,500,t,year\n"
)


@pytest.fixture
def organization_id() -> str:
    assert main(["migrate"]) == 0
    with db.session_scope() as session:
        firm = Organization(name="Huta Testowa", kind="company", country="PL", region="PL213", lat=50.06, lon=19.94)
        session.add(firm)
        session.flush()
        return str(firm.id)


def _titles() -> set[str]:
    with db.session_scope() as session:
        return set(session.scalars(select(Listing.title)))


def _write(tmp_path: Path, text: str, name: str = "listings.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8-sig")
    return str(path)


def test_import_listings_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["import", "listings", "--help"])
    assert stop.value.code == 0
    assert "--atomic" in capsys.readouterr().out


def test_a_good_file_is_imported(organization_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["import", "listings", _write(tmp_path, GOOD), "--org", organization_id]) == 0
    captured = capsys.readouterr()
    assert "2 created, 0 rejected" in captured.out
    assert "importing listings" in captured.err
    assert "2/2" in captured.err
    assert _titles() == {"Popiół lotny z kotłów pyłowych", "Gips z odsiarczania spalin"}
    with db.session_scope() as session:
        ash = session.scalars(select(Listing).where(Listing.ewc == "10 01 02")).one()
        assert str(ash.organization_id) == organization_id
        assert (ash.quantity, ash.properties) == (12000, {"moisture_pct": 0.5})
        assert ash.suggested_ewc is None  # enriched as a single create would be: the firm's code stands


def test_rejected_rows_are_listed_and_the_good_ones_stored(
    organization_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["import", "listings", _write(tmp_path, MIXED), "--org", organization_id]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "2 created, 2 rejected"
    assert out[1].startswith("line 3: quantity: ")
    assert any(line.startswith("line 4: period: ") for line in out[2:])
    assert _titles() == {"Coal fly ash", "Boiler slag"}


def test_atomic_import_stores_nothing(organization_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["import", "listings", _write(tmp_path, MIXED), "--org", organization_id, "--atomic"]) == 1
    out = capsys.readouterr().out
    assert "nothing was stored" in out
    assert "line 3: quantity: " in out
    assert _titles() == set()
    assert main(["import", "listings", _write(tmp_path, GOOD), "--org", organization_id, "--atomic"]) == 0
    assert len(_titles()) == 2


def test_a_bad_header_or_usage_stores_nothing(
    organization_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_header = _write(tmp_path, "kind,resource_type,title,colour\noffer,material,Grey ash,grey\n")
    assert main(["import", "listings", bad_header, "--org", organization_id]) == 1
    assert "line 1: colour: unknown column" in capsys.readouterr().out
    assert main(["import", "listings", str(tmp_path / "missing.csv"), "--org", organization_id]) == 2
    assert main(["import", "listings", _write(tmp_path, GOOD), "--org", str(uuid.uuid4())]) == 2
    assert "no organization" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["import", "listings", _write(tmp_path, GOOD)])  # --org is required
    assert stop.value.code == 2
    assert _titles() == set()


def test_an_import_may_leave_matching_to_a_first_load(organization_id: str, tmp_path: Path) -> None:
    with db.session_scope() as session:
        cement = Organization(name="Cementownia", kind="company", country="PL", region="PL213", lat=50.1, lon=19.8)
        session.add(cement)
        session.flush()
        cement_id = str(cement.id)
    need = "kind;resource_type;title;ewc;quantity;unit;period\nneed;material;Gips do cementu;10 01 05;20000;t;year\n"
    for path, org in ((_write(tmp_path, GOOD), organization_id), (_write(tmp_path, need, "need.csv"), cement_id)):
        assert main(["import", "listings", path, "--org", org, "--defer-matching"]) == 0
    assert len(_titles()) == 3
    # No profile, no match, nothing logged for the servers' indexes.
    assert (_count(ListingConcept), _count(Match), _count(ListingChange)) == (0, 0, 0)

    assert main(["match", "--rebuild", "--first-load"]) == 0
    assert _count(ListingConcept) > 0 and _count(Match) > 0
    with db.session_scope() as session:
        paired = session.execute(select(Match.offer_id, Match.need_id)).all()
        titles = {row.id: row.title for row in session.execute(select(Listing.id, Listing.title))}
    assert ("Gips z odsiarczania spalin", "Gips do cementu") in {(titles[o], titles[n]) for o, n in paired}
