"""The texts `kiosk privacy report` and `kiosk privacy incident` print: for the school's operator
and the person responsible for personal data, in English as every command's output is. Counts,
dates and settings only: no name, IIN or reference."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kiosk.jobs.privacy import AGE_BANDS, ALMATY, Incident, Inventory

LAW = 'the Law of the Republic of Kazakhstan "On personal data and their protection" (No. 94-V of 21 May 2013)'


def _day(moment: dt.datetime | None) -> str:
    return moment.astimezone(ALMATY).strftime("%d.%m.%Y %H:%M (Almaty)") if moment else "-"


def _operator(config: Mapping[str, Any]) -> str:
    names = config.get("PRIVACY_OPERATOR_NAME") or {}
    name = names.get("en") or names.get("ru") or names.get("kk") if isinstance(names, Mapping) else str(names)
    bin_ = config.get("PRIVACY_OPERATOR_BIN")
    return f"{name or 'NOT SET (PRIVACY_OPERATOR_NAME)'}, BIN {bin_ or 'NOT SET (PRIVACY_OPERATOR_BIN)'}"


def inventory_text(report: Inventory, config: Mapping[str, Any], backups_checked: bool) -> str:
    lines = [
        "Personal data held by this kiosk (no personal data in this report)",
        f"Operator: {_operator(config)}",
        "",
        f"Applications holding personal data: {report.holding}",
    ]
    for state, count in sorted(report.by_state.items()):
        lines.append(f"  {state}: {count}")
    lines.append("By age (since the application):")
    for _limit, label in AGE_BANDS:
        lines.append(f"  {label}: {report.by_age.get(label, 0)}")
    lines += [
        f"Oldest held: {_day(report.oldest)}",
        f"Without an outcome yet (never erased until they have one): {report.no_outcome}",
        f"Photos and scans held: {report.attachments} ({report.attachment_bytes / 1024 / 1024:.1f} MB)",
        "",
        "Retention after the outcome (PRIVACY_RETENTION_DAYS): "
        + ", ".join(f"{state} {days} days" for state, days in sorted(report.retention.items())),
        f"Due for erasure now: {report.due_now}" + (" (run `kiosk privacy erase`)" if report.due_now else ""),
        "Falling due, by month (Almaty):",
    ]
    lines += [f"  {month}: {count}" for month, count in report.due_by_month.items()] or ["  none"]
    lines += [
        f"Erased so far: {report.erased} (their reference, service, dates and states stay)",
        f"One-per-child records released after their school year: {report.released}",
        "",
        "Keys:",
        f"  site keys (instance/keys/): {', '.join(report.site_keys)}; current {report.current_site_key}",
        f"  applications' own data keys: {report.keys_in_store}"
        + (
            " (wrapped by " + ", ".join(f"{k}: {n}" for k, n in sorted(report.keys_by_wrapping_key.items())) + ")"
            if report.keys_by_wrapping_key
            else ""
        ),
    ]
    if report.site_key_sealed:
        lines.append(
            f"  sealed with a site key, from before applications had their own keys: {report.site_key_sealed} "
            "(erasing them empties the database, but backups taken before hold them until deleted)"
        )
    lines.append("")
    if not backups_checked:
        lines.append("Backups: not checked (give --backups FOLDER)")
    elif report.backups:
        lines.append(
            f"Backups older than the longest retention period ({max(report.retention.values(), default=0)} days): "
            f"{len(report.backups)}; delete them (README, Personal data):"
        )
        lines += [f"  {name}, {_day(at)}" for name, at in report.backups]
    else:
        lines.append("Backups older than the longest retention period: none")
    return "\n".join(lines) + "\n"


def incident_text(facts: Incident, config: Mapping[str, Any], now: dt.datetime) -> str:
    responsible = config.get("PRIVACY_RESPONSIBLE") or "NOT SET (PRIVACY_RESPONSIBLE)"
    lines = [
        "Personal data breach: facts from the kiosk (draft for the report to the authority)",
        f"Prepared {_day(now)} for: {responsible}",
        f"Operator: {_operator(config)}",
        f"For the notice of a breach under {LAW}, which this kiosk prepares for within one working day",
        "of discovery (check the current text of the law for the deadline and the form).",
        "",
        f"Period examined: {_day(facts.since)} to {_day(facts.until)}",
        "",
        "Whose data, how much:",
        f"  applications with personal data in the database during the period: {facts.submissions_held}",
        f"  distinct people in them (applicants and children): {facts.people}",
    ]
    lines += [f"    {service}: {count}" for service, count in sorted(facts.by_service.items())]
    lines += [
        "",
        "Which data: for each application the applicant's and the child's IIN and names, the answers of its",
        "form (for meals and camps the family's social situation, for home schooling the child's health),",
        "photos of documents, the consent; sealed at rest (AES-256-GCM) with each application's own key.",
        "",
        "What the audit log shows in the period:",
        f"  first and last entry: {_day(facts.first_entry)} / {_day(facts.last_entry)}",
        "  reads of personal data by who (applications, photos, reprints, reports):",
    ]
    lines += [f"    {actor}: {count}" for actor, count in sorted(facts.reads_by_actor.items())] or ["    none"]
    lines += [
        f"  failed staff sign-ins: {facts.failed_sign_ins}; locks: {facts.locks}",
        f"  queue exports (CSV, no personal data): {facts.exports}",
        f"  erasures: {facts.erased_in_period}",
        "  audit chain: "
        + (
            "intact"
            if not facts.audit_problems
            else f"BROKEN ({len(facts.audit_problems)} problems: entries changed or removed)"
        ),
        "",
        "To add by hand: what happened and how it was found, the measures taken, the contact for questions.",
    ]
    return "\n".join(lines) + "\n"
