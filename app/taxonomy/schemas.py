from pydantic import BaseModel


class EwcRead(BaseModel):
    code: str
    level: str
    parent: str | None
    hazardous: bool
    entry_type: str | None
    label_en: str
    label_pl: str | None
    synonyms: list[str]


class EwcList(BaseModel):
    items: list[EwcRead]
    total: int
    limit: int
    offset: int


class NaceRead(BaseModel):
    code: str
    level: str
    parent: str | None
    label_en: str
    label_pl: str | None
    keywords: list[str]


class NaceList(BaseModel):
    items: list[NaceRead]
    total: int
    limit: int
    offset: int
