"""Commerce refusals (DomainErrors: the one handler makes them problem responses)."""
from __future__ import annotations

from fieldservice.errors import Conflict, DomainError


class ConsentRequired(Conflict):
    """R-REP-4: chargeable work without the customer's accepted consent covering it."""

    code, title = "consent_required", "No accepted customer consent covers this chargeable work"


class ApprovalRequired(Conflict):
    """R-REP-8: a quote more than the allowed deviation below the price list needs a manager's approval."""

    code, title = "approval_required", "Quote needs an office manager's approval"


class ContentHashMismatch(Conflict):
    code, title = "content_hash_mismatch", "The consented content differs from the server's quote"


class QuoteNotPresented(Conflict):
    code, title = "quote_not_presented", "The quote is not awaiting the customer's decision"


class NoPublishedPriceList(Conflict):
    code, title = "no_published_price_list", "No price list is published"


class RepairAgreementRequired(Conflict):
    """R-REP-8: accepting a high-cost out-of-warranty quote needs the signed written repair agreement."""

    code, title = "repair_agreement_required", "A written repair agreement is required for this quote"


class InspectionRequired(Conflict):
    """R-RET-3: a returned unit is inspected before any outcome (refund, exchange, repair) is decided."""

    code, title = "inspection_required", "The returned unit must be inspected first"


class OutcomeNotAllowed(Conflict):
    """R-RET-1/2: the outcome must be one the warranty decision allows."""

    code, title = "outcome_not_allowed", "The warranty decision does not allow this outcome"


class LinkInvalid(DomainError):
    status, code, title = 404, "link_invalid", "Link unknown, used or expired"
