"""Questionnaire results over time: scores, bands, change from baseline against the MIC."""

from __future__ import annotations

import json

from telecbt_cli.content.catalog import Catalog
from telecbt_cli.core.clinical.patients import patient_id_for
from telecbt_cli.core.clinical.scoring import change
from telecbt_cli.core.store import audit
from telecbt_cli.core.store.access import Access


def history(access: Access, catalog: Catalog, patient_code: str, instrument: str | None = None) -> list[dict]:
    """Completed responses, oldest first, each with its change from that instrument's first score."""
    access.require("read")
    patient_id = patient_id_for(access, patient_code)
    sql = ("SELECT id, instrument_id, instrument_version, lang, total, band, subscales, responder, prorated, "
           "completed_at, recorded_by FROM measure_responses WHERE patient_id = ? AND deleted = 0")
    params: list = [patient_id]
    if instrument:
        sql += " AND instrument_id = ?"
        params.append(instrument)
    rows = access.store.rows(sql + " ORDER BY completed_at, hlc", params)
    baselines: dict[str, float | None] = {}
    for row in rows:
        row["subscales"] = json.loads(row["subscales"] or "{}")
        row["responder"] = None if row["responder"] is None else bool(row["responder"])
        row["prorated"] = bool(row["prorated"])
        content = catalog.entries.get("instrument", {}).get(row["instrument_id"])
        first = row["instrument_id"] not in baselines
        baseline = baselines.setdefault(row["instrument_id"], row["total"])
        row["baseline"] = first
        row["change"] = change(content, baseline, row["total"]) if content and not first else None
    audit.append(access.store, access.user, "measure.read", patient_id=patient_id)
    return rows
