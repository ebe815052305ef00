"""Request matching shared by fault rules, quotas and journal queries: simulator, tenant, method, path, operation."""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class RequestMatch(BaseModel):
    """Which requests a rule applies to. Every field left out matches anything.

    `path` is a glob (`*` crosses `/`), `path_regex` a regular expression searched in the path, `operation` the
    simulator's route name (see a journal entry's `operation`).
    """

    model_config = ConfigDict(extra="forbid")

    simulator: str | None = Field(default=None, max_length=64)
    tenant: str | None = Field(default=None, max_length=128)
    method: str | None = Field(default=None, pattern=r"^[A-Za-z]{1,10}$")
    path: str | None = Field(default=None, max_length=1024)
    path_regex: str | None = Field(default=None, max_length=1024)
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
