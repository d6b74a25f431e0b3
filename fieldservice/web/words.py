"""Statuses, kinds and refusal codes as words on the pages (gettext message ids; unknown values stay as they are).

`word(group, value)` in a template: `{{ word('work_order_status', order.status) }}`. The gate's and the
services' refusal codes (`refusal` group) are named here too, so a refusal reads in the page's language with its
rule id next to it; the service's own sentence stays available in the page as the detail."""
from __future__ import annotations

import enum
from typing import Any

from flask_babel import lazy_gettext as _l

WORDS: dict[str, dict[str, Any]] = {
    "work_order_status": {
        "new": _l("New"), "scheduled": _l("Scheduled"), "dispatched": _l("Dispatched"),
        "in_progress": _l("In progress"), "work_complete": _l("Work complete"), "signed": _l("Signed"),
        "closed": _l("Closed"), "cancelled": _l("Cancelled"), "rework": _l("Rework")},
    "visit_status": {
        "planned": _l("Planned"), "in_progress": _l("On site"), "completed": _l("Completed"),
        "cancelled": _l("Cancelled")},
    "asset_status": {"awaiting_installation": _l("Awaiting installation"), "in_service": _l("In service"),
                     "retired": _l("Retired")},
    "work_order_kind": {"installation": _l("Installation"), "repair": _l("Repair"), "maintenance": _l("Maintenance")},
    "priority": {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "urgent": _l("Urgent")},
    "request_status": {"open": _l("Open"), "answered": _l("Answered on the spot"),
                       "work_order_opened": _l("Work order opened"), "closed": _l("Closed")},
    "channel": {"phone": _l("Phone"), "email": _l("E-mail"), "online": _l("Online"), "walk_in": _l("Walk-in"),
                "visit": _l("On a visit"), "follow_up": _l("Follow-up call")},
    "quote_status": {"draft": _l("Draft"), "pending_approval": _l("Awaiting approval"), "approved": _l("Approved"),
                     "presented": _l("Waiting for the customer"), "accepted": _l("Accepted"),
                     "declined": _l("Declined"), "superseded": _l("Superseded")},
    "price_item_kind": {"part": _l("Part"), "labour": _l("Labour"), "fee": _l("Fee")},
    "complaint_status": {"open": _l("Awaiting first response"), "investigating": _l("Investigating"),
                         "resolved": _l("Resolved"), "closed": _l("Closed (fed back)")},
    "complaint_note": {"note": _l("Note"), "contact_failed": _l("Customer not reached"),
                       "response": _l("Response to the customer")},
    "followup_kind": {"installation": _l("Installation"), "repair": _l("Repair")},
    "followup_status": {"open": _l("To call"), "done": _l("Done"), "unreachable": _l("Not reachable"),
                        "cancelled": _l("Cancelled")},
    "record_status": {"draft": _l("Draft"), "signed": _l("Signed")},
    "notification_status": {"pending": _l("Waiting"), "sending": _l("Sending"), "sent": _l("Sent"),
                            "failed": _l("Failed")},
    "rejection_status": {"open": _l("Open"), "resolved": _l("Resolved"), "superseded": _l("Superseded")},
    "rejection_kind": {"rejected": _l("Not applied"), "overridden": _l("Applied, some fields kept")},
    "sla_target": {"respond": _l("Respond"), "on_site": _l("On site"), "fix": _l("Fixed"),
                   "answer": _l("Request answered")},
    "sla_outcome": {"pending": _l("Running"), "met": _l("Met"), "breached": _l("Breached"),
                    "cancelled": _l("Cancelled")},
    "location_kind": {"warehouse": _l("Warehouse"), "van": _l("Van"), "quarantine": _l("Quarantine")},
    "movement_kind": {"receive": _l("Received"), "transfer": _l("Transfer"), "issue": _l("Issued to a job"),
                      "return": _l("Returned from a job"), "adjust": _l("Adjustment"),
                      "quarantine": _l("Quarantined"), "scrap": _l("Scrapped"),
                      "return_to_supplier": _l("Returned to supplier")},
    "role": {"technician": _l("Technician"), "dispatcher": _l("Dispatcher"), "office": _l("Office"),
             "parts_keeper": _l("Parts keeper"), "admin": _l("Administrator"), "customer": _l("Customer")},
    "interval_unit": {"days": _l("days"), "weeks": _l("weeks"), "months": _l("months"), "years": _l("years")},
    "plan_status": {"active": _l("Active"), "cancelled": _l("Cancelled")},
    "consent_channel": {"device": _l("On the technician's device"), "link": _l("Customer's link"),
                        "portal": _l("Customer login"), "staff": _l("Recorded by staff")},
    "sync_table": {"visits": _l("Visit"), "work_orders": _l("Work order"), "work_logs": _l("Work log"),
                   "service_records": _l("Service record"), "signoffs": _l("Sign-off"),
                   "photos": _l("Photo"), "quote_consents": _l("Quote consent"),
                   "visit_charges": _l("Charge"), "stock_movements": _l("Parts issue")},
    # refusals: the lifecycle gate's condition codes and the services' error codes
    "refusal": {
        "no_technician": _l("No technician assigned"),
        "technician_not_certified": _l("The technician has no valid certification for this product line"),
        "technician_unavailable": _l("The technician already has a visit at that time"),
        "visit_not_confirmed": _l("The time was not confirmed with the customer"),
        "before_visit_window": _l("Too early: the visit's window has not begun"),
        "visits_planned": _l("The job still has planned visits"),
        "no_visit_planned": _l("No visit of the job is planned"),
        "no_visit_in_progress": _l("No visit of the job is in progress"),
        "visit_in_progress": _l("A visit of the job is still in progress"),
        "work_not_reported_complete": _l("No visit departed with the work complete"),
        "record_missing": _l("The job's record is not written"),
        "record_unsigned": _l("The job's record is not signed by the customer"),
        "acceptance_unsigned": _l("The customer has not signed the acceptance"),
        "survey_missing": _l("No satisfaction survey from the customer"),
        "contract_mismatch": _l("The delivered unit does not match the contract"),
        "work_not_complete": _l("The work is not complete"),
        "part_charge_not_issued": _l("A charged part was not issued from stock"),
        "parts_issued_beyond_consent": _l("More parts issued than the customer consented to"),
        "charge_without_consent": _l("A charge is not covered by the customer's consent"),
        "consent_not_matching_quote": _l("The consent does not match the quote"),
        "staff_consent_without_evidence": _l("A consent recorded by staff has no evidence"),
        "conditions_not_met": _l("The conditions for this change are not met"),
        "invalid_transition": _l("This change is not possible in the current status"),
        "stale_version": _l("Someone else changed it in the meantime; reload the page"),
        "validation_failed": _l("Some fields are missing or wrong"),
        "unknown_reference": _l("Something chosen no longer exists"),
        "not_found": _l("Not found"),
        "forbidden": _l("Your role may not do this"),
        "conflict": _l("This is not possible now"),
        "approval_required": _l("More than 10% below the price list: an office manager must approve it first"),
        "quote_not_presented": _l("The quote is not waiting for a decision"),
        "content_hash_mismatch": _l("The quote changed since it was shown; reload it"),
        "repair_agreement_required": _l("This repair needs the signed written repair agreement"),
        "link_invalid": _l("This link is unknown, already used or expired"),
        "already_signed": _l("The record is already signed"),
    },
}

RULES = {"technician_not_certified": "R-TEC-1", "technician_unavailable": "R-TEC-1",
         "approval_required": "R-REP-8", "repair_agreement_required": "R-REP-8",
         "content_hash_mismatch": "R-REP-4", "quote_not_presented": "R-REP-4"}


def word(group: str, value: Any) -> str:
    """The word for `value` (an enum member or its value) in `group`, in the page's language."""
    if value is None:
        return "—"
    key = value.value if isinstance(value, enum.Enum) else str(value)
    found = WORDS.get(group, {}).get(key)
    return str(found) if found is not None else key


def choices(group: str) -> list[tuple[str, str]]:
    """(value, word) pairs for a select."""
    return [(key, str(label)) for key, label in WORDS[group].items()]
