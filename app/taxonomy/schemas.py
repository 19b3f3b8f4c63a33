from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints


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


class SuggestRequest(BaseModel):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)]
    k: Annotated[int, Field(ge=1, le=20, strict=True)] = 5  # strict: JSON true is no count


class SuggestionRead(BaseModel):
    code: str
    label_en: str
    label_pl: str | None
    hazardous: bool
    confidence: float = Field(description="Share of the evidence among the suggestions returned")
    matched_words: list[str] = Field(description="Words of the text that led to this code")


class SuggestionList(BaseModel):
    items: list[SuggestionRead]
