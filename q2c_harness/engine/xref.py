"""Cross-reference table: (system, object type, external id) <-> canonical id, one-to-one per (system, type).

Both directions are unique constraints, so two workers racing to link the same record cannot both win. NetSuite
external ids are case-insensitive, so for those systems the uniqueness key is case-folded (the id itself is kept
as written).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from q2c_harness.errors import BusinessError

from q2c_harness import correlation
from .db import Database, xref

CASE_INSENSITIVE_SYSTEMS = frozenset({"netsuite"})


@dataclass(frozen=True)
class XrefLink:
    system: str
    object_type: str
    external_id: str
    canonical_id: str
    created_at: str


class XrefConflict(BusinessError):
    """A link would make the mapping many-to-one in either direction."""


class CrossReference:
    def __init__(self, db: Database, *, case_insensitive_systems: frozenset[str] = CASE_INSENSITIVE_SYSTEMS):
        self.db = db
        self.case_insensitive = case_insensitive_systems

    def _key(self, system: str, external_id: str) -> str:
        return external_id.casefold() if system in self.case_insensitive else external_id

    def link(self, system: str, object_type: str, external_id: str, canonical_id: str) -> XrefLink:
        """Link an external record to a canonical object. Linking the same pair again is a no-op;
        a conflicting link (either side already linked elsewhere) raises ``XrefConflict`` (a BusinessError)."""
        existing = self._find(system, object_type, external_id=external_id, canonical_id=canonical_id)
        if existing:
            return self._same_or_conflict(existing, system, object_type, external_id, canonical_id)
        try:
            with self.db.tx() as conn:
                conn.execute(sa.insert(xref).values(
                    system=system, object_type=object_type, external_id=external_id,
                    external_id_key=self._key(system, external_id), canonical_id=canonical_id,
                    correlation_id=correlation.current(), created_at=self.db.now()))
        except sa.exc.IntegrityError:
            existing = self._find(system, object_type, external_id=external_id, canonical_id=canonical_id)
            return self._same_or_conflict(existing, system, object_type, external_id, canonical_id)
        return self._find(system, object_type, external_id=external_id)[0]

    def lookup(self, system: str, object_type: str, external_id: str) -> str | None:
        """Canonical id for an external id, or None."""
        rows = self._find(system, object_type, external_id=external_id)
        return rows[0].canonical_id if rows else None

    def reverse(self, system: str, object_type: str, canonical_id: str) -> str | None:
        """External id in ``system`` for a canonical id, or None."""
        rows = self._find(system, object_type, canonical_id=canonical_id)
        return rows[0].external_id if rows else None

    def links_for(self, canonical_id: str) -> list[XrefLink]:
        """Every system's id for one canonical object."""
        with self.db.tx() as conn:
            rows = conn.execute(sa.select(xref).where(xref.c.canonical_id == canonical_id)
                                .order_by(xref.c.id)).all()
        return [XrefLink(r.system, r.object_type, r.external_id, r.canonical_id, r.created_at) for r in rows]

    def _find(self, system: str, object_type: str, *, external_id: str | None = None,
              canonical_id: str | None = None) -> list[XrefLink]:
        conds = []
        if external_id is not None:
            conds.append(xref.c.external_id_key == self._key(system, external_id))
        if canonical_id is not None:
            conds.append(xref.c.canonical_id == canonical_id)
        q = sa.select(xref).where(xref.c.system == system, xref.c.object_type == object_type, sa.or_(*conds))
        with self.db.tx() as conn:
            rows = conn.execute(q.order_by(xref.c.id)).all()
        return [XrefLink(r.system, r.object_type, r.external_id, r.canonical_id, r.created_at) for r in rows]

    def _same_or_conflict(self, existing: list[XrefLink], system: str, object_type: str, external_id: str,
                          canonical_id: str) -> XrefLink:
        for link in existing:
            if self._key(system, link.external_id) == self._key(system, external_id) \
                    and link.canonical_id == canonical_id:
                return link
        other = existing[0]
        raise XrefConflict(
            f"{system} {object_type} {external_id!r} -> {canonical_id!r} conflicts with existing link "
            f"{other.external_id!r} -> {other.canonical_id!r}",
            system=system, code="XREF_CONFLICT",
            details={"object_type": object_type, "external_id": external_id, "canonical_id": canonical_id,
                     "existing": {"external_id": other.external_id, "canonical_id": other.canonical_id}})
