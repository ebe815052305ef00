"""Request matching shared by fault rules, quotas and journal queries: simulator, tenant, method, path, operation."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache

from datetime import datetime
from typing import Annotated, Any, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator, model_validator


def _instant(value: Any) -> Any:
    """ISO 8601 text (or a datetime from YAML) only: a bare number is not an instant."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("expected an ISO 8601 date-time, e.g. 2026-11-30T23:55:00Z") from None
    if not isinstance(value, datetime):
        raise ValueError("expected an ISO 8601 date-time string")
    if not 1970 <= value.year <= 2999:  # keeps every later clock and window arithmetic in range
        raise ValueError("the year must be between 1970 and 2999")
    return value


Instant = Annotated[datetime, BeforeValidator(_instant), WithJsonSchema(
    {"type": "string", "format": "date-time", "pattern": "^(19[7-9][0-9]|2[0-9]{3})-"})]


def _wants_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    return any(_wants_int(arg) for arg in get_args(annotation) if arg is not float)


class StrictModel(BaseModel):
    """Admin input: unknown fields and lax coercions ("5" for 5, 1 for true) are errors, not guesses.

    JSON has one number type, so an integral float (5.0) is taken where an integer is wanted.
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_floats(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, info in cls.model_fields.items():
                value = data.get(name)
                if isinstance(value, float) and value.is_integer() and _wants_int(info.annotation):
                    data = {**data, name: int(value)}
                elif isinstance(value, dict) and _wants_int(info.annotation):  # dict[str, int] values too
                    data = {**data, name: {k: int(v) if isinstance(v, float) and v.is_integer() else v
                                           for k, v in value.items()}}
        return data


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class RequestMatch(StrictModel):
    """Which requests a rule applies to. Every field left out matches anything.

    `path` is a glob (`*` crosses `/`), `path_regex` a regular expression searched in the path, `operation` the
    simulator's route name (see a journal entry's `operation`).
    """

    simulator: str | None = Field(default=None, max_length=64)
    tenant: str | None = Field(default=None, max_length=128)
    method: str | None = Field(default=None, pattern=r"^[A-Za-z]{1,10}$")
    path: str | None = Field(default=None, max_length=1024)
    path_regex: str | None = Field(default=None, max_length=1024, json_schema_extra={"format": "regex"})
    operation: str | None = Field(default=None, max_length=128)

    @field_validator("path_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def matches(self, simulator: str, tenant: str | None, method: str, path: str, operation: str | None) -> bool:
        if self.simulator is not None and self.simulator != simulator:
            return False
        if self.tenant is not None and self.tenant != tenant:
            return False
        if self.method is not None and self.method.upper() != method:
            return False
        if self.operation is not None and self.operation != operation:
            return False
        if self.path is not None and not fnmatchcase(path, self.path):
            return False
        if self.path_regex is not None and not _regex(self.path_regex).search(path):
            return False
        return True
