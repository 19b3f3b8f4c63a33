from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class EwcCode(Base):
    """One code of the European List of Waste: a chapter, a subchapter or an entry."""

    __tablename__ = "ewc_codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    parent: Mapped[str | None] = mapped_column(String(8), index=True)
    hazardous: Mapped[bool] = mapped_column(default=False)
    # "absolute" or "mirror" for entries: a mirror entry's hazard depends on what the waste contains.
    entry_type: Mapped[str | None] = mapped_column(String(16))
    label_en: Mapped[str] = mapped_column(String(300))
    label_pl: Mapped[str | None] = mapped_column(String(300))
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(16), default="symbioza")


class NaceCode(Base):
    """A NACE Rev. 2 section, division or class."""

    __tablename__ = "nace_codes"

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))
    parent: Mapped[str | None] = mapped_column(String(8), index=True)
    label_en: Mapped[str] = mapped_column(String(300))
    label_pl: Mapped[str | None] = mapped_column(String(300))
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
