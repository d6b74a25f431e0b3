"""Commerce endpoints: warranty terms and decisions, price lists, quotes and consent, visit charges,
consultations and advisory notices (docs/commerce.md)."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, public, requires
from fieldservice.auth.models import Role
from fieldservice.commerce import charges, consultations, prices, quotes, returns, warranty
from fieldservice.commerce.schemas import (
    AdvisoryInSchema,
    AdvisorySchema,
    ApprovalInSchema,
    ChargeInSchema,
    ChargeQuerySchema,
    ChargeSchema,
    ConsentInSchema,
    ConsentSchema,
    ConsultationInSchema,
    ConsultationQuerySchema,
    ConsultationSchema,
    DecisionInSchema,
    DecisionSchema,
    DeliverySchema,
    LinkConsentInSchema,
    LinkSchema,
    PriceItemsInSchema,
    PriceListInSchema,
    PriceListQuerySchema,
    PriceListSchema,
    QuoteCanonicalSchema,
    QuoteInSchema,
    QuoteQuerySchema,
    QuoteSchema,
    QuoteUpdateSchema,
    ReturnCaseInSchema,
    ReturnCaseOutcomeInSchema,
    ReturnCaseQuerySchema,
    ReturnCaseSchema,
    ReturnInspectionInSchema,
    SendResultSchema,
    SummaryQuerySchema,
    SummaryRowSchema,
    TermsInSchema,
    TermsQuerySchema,
    TermsSchema,
    TermsUpdateSchema,
)
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import PageArgsSchema, page_of
from fieldservice.db import unit_of_work

blp = Blueprint("commerce", __name__, url_prefix="/api/v1",
                description="Warranty (R-RET-1/2), returned units inspected before an outcome (R-RET-3), price "
                            "lists and quotes with the written agreement for high-cost jobs (R-REP-8), consent and "
                            "chargeable work (R-REP-4), consultations and advisory notices (R-CON-1)")

OFFICE = (Role.OFFICE, Role.ADMIN)
FIELD = (*BACK_OFFICE, Role.TECHNICIAN)
QUOTE_READERS = (*FIELD, Role.CUSTOMER)
QUOTE_WRITERS = (Role.TECHNICIAN, *BACK_OFFICE)


# ---- warranty ------------------------------------------------------------------------------------

@blp.route("/warranty-terms")
class TermsList(MethodView):
    @requires(*FIELD)
    @blp.arguments(TermsQuerySchema, location="query")
    @blp.response(200, TermsSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Warranty and return terms (per product, per contract, or the company default)."""
        return warranty.list_terms(**args)

    @requires(*OFFICE)
    @blp.arguments(TermsInSchema)
    @blp.response(201, TermsSchema)
    @blp.alt_response(409, description="Terms for this product/contract combination exist")
    def post(self, data: dict[str, Any]) -> Any:
        """Configure warranty months, covered fault types, return/exchange windows and shipping liability."""
        with unit_of_work():
            return warranty.create_terms(current_actor(), data)


@blp.route("/warranty-terms/<uuid:terms_id>")
class TermsItem(MethodView):
    @requires(*OFFICE)
    @blp.arguments(TermsUpdateSchema)
    @blp.response(200, TermsSchema)
    def put(self, data: dict[str, Any], terms_id: uuid.UUID) -> Any:
        """Replace the terms' values (fields left out take their defaults)."""
        with unit_of_work():
            return warranty.update_terms(current_actor(), terms_id, data)


@blp.route("/work-orders/<uuid:work_order_id>/warranty-decision")
class WarrantyDecisionView(MethodView):
    @requires(*FIELD)
    @blp.response(200, DecisionSchema)
    def get(self, work_order_id: uuid.UUID) -> Any:
        """The job's stored warranty decision."""
        return warranty.get_decision(current_actor(), work_order_id)

    @requires(*FIELD)
    @blp.arguments(DecisionInSchema)
    @blp.response(200, DecisionSchema)
    def put(self, data: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """Decide in/out of warranty and the return/exchange option from the unit's warranty dates and the
        fault type (R-RET-1/2, R-REP-8); stored on the job, replacing an earlier decision. Dispatcher, office,
        admin or the job's technician. `reported_on` defaults to the job's server-stamped report; an earlier
        day needs `reported_on_evidence` and the office or admin role (403 for others, 422 without evidence);
        a future day is 422 (R-RET-1)."""
        with unit_of_work():
            return warranty.decide(current_actor(), work_order_id, data)


# ---- price lists ---------------------------------------------------------------------------------

@blp.route("/price-lists")
class PriceLists(MethodView):
    @requires(*FIELD)
    @blp.arguments(PriceListQuerySchema, location="query")
    @blp.response(200, page_of(PriceListSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Price list versions, newest first."""
        return prices.list_price_lists(args.pop("page_request"), **args)

    @requires(*OFFICE)
    @blp.arguments(PriceListInSchema)
    @blp.response(201, PriceListSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """A new draft price list (next version): parts, labour per hour, fees, in minor units."""
        with unit_of_work():
            return prices.create_price_list(current_actor(), data)


@blp.route("/price-lists/current")
class CurrentPriceList(MethodView):
    @requires(*FIELD)
    @blp.response(200, PriceListSchema)
    @blp.alt_response(409, description="no_published_price_list")
    def get(self) -> Any:
        """The published (current) price list."""
        return prices.current_price_list()


@blp.route("/price-lists/<uuid:price_list_id>")
class PriceListItemView(MethodView):
    @requires(*FIELD)
    @blp.response(200, PriceListSchema)
    def get(self, price_list_id: uuid.UUID) -> Any:
        """One price list version."""
        return prices.get_price_list(price_list_id)


@blp.route("/price-lists/<uuid:price_list_id>/items")
class PriceListItems(MethodView):
    @requires(*OFFICE)
    @blp.arguments(PriceItemsInSchema)
    @blp.response(200, PriceListSchema)
    @blp.alt_response(409, description="The list is published or retired")
    def put(self, data: dict[str, Any], price_list_id: uuid.UUID) -> Any:
        """Replace a draft's items."""
        with unit_of_work():
            return prices.replace_items(current_actor(), price_list_id, data["items"])


@blp.route("/price-lists/<uuid:price_list_id>/publish")
class PublishPriceList(MethodView):
    @requires(*OFFICE)
    @blp.response(200, PriceListSchema)
    @blp.alt_response(409, description="Not a draft, or empty")
    def post(self, price_list_id: uuid.UUID) -> Any:
        """Publish a draft: it becomes the one current list and the previous one is retired."""
        with unit_of_work():
            return prices.publish(current_actor(), price_list_id)


# ---- quotes --------------------------------------------------------------------------------------

@blp.route("/quotes")
class Quotes(MethodView):
    @requires(*QUOTE_READERS)
    @blp.arguments(QuoteQuerySchema, location="query")
    @blp.response(200, page_of(QuoteSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Quotes (technicians: their jobs; customers: their own presented quotes)."""
        return quotes.list_quotes(current_actor(), args.pop("page_request"), **args)

    @requires(*QUOTE_WRITERS)
    @blp.arguments(QuoteInSchema)
    @blp.response(201, QuoteSchema)
    @blp.alt_response(409, description="Job not open, no published price list, original not accepted")
    @blp.alt_response(422, description="A line is not on the price list, or an unknown reference")
    def post(self, data: dict[str, Any]) -> Any:
        """A draft quote for a job from the current price list (supplementary: name the original)."""
        with unit_of_work():
            return quotes.create_quote(current_actor(), data)


@blp.route("/quotes/<uuid:quote_id>")
class QuoteItem(MethodView):
    @requires(*QUOTE_READERS)
    @blp.response(200, QuoteSchema)
    def get(self, quote_id: uuid.UUID) -> Any:
        """One quote with its lines."""
        return quotes.get_quote(current_actor(), quote_id)

    @requires(*QUOTE_WRITERS)
    @blp.arguments(QuoteUpdateSchema)
    @blp.response(200, QuoteSchema)
    @blp.alt_response(409, description="Already presented")
    def put(self, data: dict[str, Any], quote_id: uuid.UUID) -> Any:
        """Replace the lines of a quote not yet presented (drops an approval)."""
        with unit_of_work():
            return quotes.update_quote(current_actor(), quote_id, data)


@blp.route("/quotes/<uuid:quote_id>/submit")
class QuoteSubmit(MethodView):
    @requires(*QUOTE_WRITERS)
    @blp.response(200, QuoteSchema)
    def post(self, quote_id: uuid.UUID) -> Any:
        """Ask an office manager to approve a quote more than 10% below the price list."""
        with unit_of_work():
            return quotes.submit_for_approval(current_actor(), quote_id)


@blp.route("/quotes/<uuid:quote_id>/approval")
class QuoteApproval(MethodView):
    @requires(*OFFICE)
    @blp.arguments(ApprovalInSchema)
    @blp.response(200, QuoteSchema)
    def post(self, data: dict[str, Any], quote_id: uuid.UUID) -> Any:
        """Approve (or send back to draft) a quote below the allowed deviation (R-REP-8)."""
        with unit_of_work():
            return quotes.decide_approval(current_actor(), quote_id, data["approve"], data.get("note"))


@blp.route("/quotes/<uuid:quote_id>/present")
class QuotePresent(MethodView):
    @requires(*QUOTE_WRITERS)
    @blp.response(200, QuoteSchema)
    @blp.alt_response(409, description="approval_required: more than 10% below the list without approval")
    def post(self, quote_id: uuid.UUID) -> Any:
        """Show the quote to the customer: its content is frozen and hashed (the consent binds to it)."""
        with unit_of_work():
            return quotes.present(current_actor(), quote_id)


@blp.route("/quotes/<uuid:quote_id>/canonical")
class QuoteCanonical(MethodView):
    @requires(*QUOTE_READERS)
    @blp.response(200, QuoteCanonicalSchema)
    def get(self, quote_id: uuid.UUID) -> Any:
        """The canonical JSON the customer's consent binds to, and its SHA-256."""
        return quotes.get_canonical(current_actor(), quote_id)


@blp.route("/quotes/<uuid:quote_id>/consent")
class QuoteConsentView(MethodView):
    @requires(*QUOTE_READERS)
    @blp.response(200, ConsentSchema)
    def get(self, quote_id: uuid.UUID) -> Any:
        """The customer's decision on the quote."""
        return quotes.get_consent(current_actor(), quote_id)

    @requires(Role.TECHNICIAN, Role.DISPATCHER, Role.ADMIN, Role.CUSTOMER)
    @blp.arguments(ConsentInSchema)
    @blp.response(201, ConsentSchema)
    @blp.alt_response(409, description="quote_not_presented or content_hash_mismatch")
    @blp.alt_response(422, description="a consent recorded by staff without its evidence, or with a signature")
    def post(self, data: dict[str, Any], quote_id: uuid.UUID) -> Any:
        """The customer accepts or declines: on the technician's device (technician; channel device) or signed
        in (customer; channel portal). A dispatcher or admin records a consent the customer gave by phone,
        email, a signed document or in person (channel staff, R-REP-4): it needs evidence_kind,
        evidence_reference and evidence_at (optionally evidence_photo_id) and carries no signature."""
        with unit_of_work():
            return quotes.record_consent(current_actor(), quote_id, data)


@blp.route("/quotes/<uuid:quote_id>/link")
class QuoteLink(MethodView):
    @requires(*QUOTE_WRITERS)
    @blp.response(201, LinkSchema)
    def post(self, quote_id: uuid.UUID) -> Any:
        """A single-use link for the customer to decide on a presented quote (the token is shown once)."""
        with unit_of_work():
            return quotes.create_link(current_actor(), quote_id)


@blp.route("/quote-links/<string:token>")
class QuoteLinkView(MethodView):
    @public
    @blp.response(200, QuoteCanonicalSchema)
    def get(self, token: str) -> Any:
        """The quote behind a customer link (no login: the link is the credential)."""
        return quotes.link_view(token)


@blp.route("/quote-links/<string:token>/consent")
class QuoteLinkConsent(MethodView):
    @public
    @blp.arguments(LinkConsentInSchema)
    @blp.response(201, ConsentSchema)
    @blp.alt_response(404, description="link_invalid: unknown, used or expired")
    def post(self, data: dict[str, Any], token: str) -> Any:
        """The customer accepts or declines through their link (single use)."""
        with unit_of_work():
            return quotes.consent_by_link(token, data)


# ---- charges -------------------------------------------------------------------------------------

@blp.route("/visit-charges")
class VisitCharges(MethodView):
    @requires(*QUOTE_READERS)
    @blp.arguments(ChargeQuerySchema, location="query")
    @blp.response(200, page_of(ChargeSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Charges recorded on a visit or job (give visit_id or work_order_id)."""
        return charges.list_charges(current_actor(), args.pop("page_request"), **args)

    @requires(Role.TECHNICIAN, Role.DISPATCHER, Role.ADMIN)
    @blp.arguments(ChargeInSchema)
    @blp.response(201, ChargeSchema)
    @blp.alt_response(409, description="consent_required: no accepted quote line covers this chargeable work; "
                                       "insufficient_stock: the van does not hold the parts")
    @blp.alt_response(422, description="part_not_in_catalog, part_not_approved, a fraction of a part, or a "
                                       "stock_movement_id that is not the issue of these parts")
    def post(self, data: dict[str, Any]) -> Any:
        """Record chargeable work on a visit: a part with serials, labour hours or a fee (R-REP-4). Technician
        (own visit), dispatcher or admin. A part is an approved catalog part issued from stock (R-REP-6): the
        charge names its issue line (stock_movement_id) or recording it issues the parts from the van of the
        visit's technician."""
        with unit_of_work():
            return charges.record_charge(current_actor(), data)


# ---- consultations and advisories ----------------------------------------------------------------

@blp.route("/consultations")
class Consultations(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(ConsultationQuerySchema, location="query")
    @blp.response(200, page_of(ConsultationSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Consultations, newest first, by product, topic, customer and time."""
        return consultations.list_consultations(args.pop("page_request"), **args)

    @requires(*BACK_OFFICE)
    @blp.arguments(ConsultationInSchema)
    @blp.response(201, ConsultationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Log a technical consultation answered on the spot (R-REP-1, R-CON-1)."""
        with unit_of_work():
            return consultations.log_consultation(current_actor(), data)


@blp.route("/consultations/summary")
class ConsultationSummary(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(SummaryQuerySchema, location="query")
    @blp.response(200, SummaryRowSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """Consultations per product model and topic in a period (the recurring problems first)."""
        return consultations.summarise(**args)


@blp.route("/advisories")
class Advisories(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(AdvisorySchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Advisory notices, newest first."""
        return consultations.list_advisories(args["page_request"])

    @requires(*OFFICE)
    @blp.arguments(AdvisoryInSchema)
    @blp.response(201, AdvisorySchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Turn a recurring problem into an advisory notice for the affected product models (draft)."""
        with unit_of_work():
            return consultations.create_advisory(current_actor(), data)


@blp.route("/advisories/<uuid:advisory_id>")
class AdvisoryItem(MethodView):
    @requires(*BACK_OFFICE)
    @blp.response(200, AdvisorySchema)
    def get(self, advisory_id: uuid.UUID) -> Any:
        """One advisory notice."""
        return consultations.get_advisory(advisory_id)


@blp.route("/advisories/<uuid:advisory_id>/send")
class AdvisorySend(MethodView):
    @requires(*OFFICE)
    @blp.response(200, SendResultSchema)
    def post(self, advisory_id: uuid.UUID) -> Any:
        """Send to every customer owning an affected model, through the outbox; re-sending reaches only
        customers not yet notified (no duplicates)."""
        with unit_of_work():
            return consultations.send_advisory(current_actor(), advisory_id)


@blp.route("/advisories/<uuid:advisory_id>/deliveries")
class AdvisoryDeliveries(MethodView):
    @requires(*BACK_OFFICE)
    @blp.response(200, DeliverySchema(many=True))
    def get(self, advisory_id: uuid.UUID) -> Any:
        """Delivery status per customer (the outbox messages' status)."""
        return consultations.delivery_status(advisory_id)


# ---- returned units (R-RET-1/2/3) ----------------------------------------------------------------

RETURN_READERS = (*OFFICE, Role.DISPATCHER, Role.CUSTOMER)


@blp.route("/returns")
class Returns(MethodView):
    @requires(*RETURN_READERS)
    @blp.arguments(ReturnCaseQuerySchema, location="query")
    @blp.response(200, page_of(ReturnCaseSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Return/exchange cases, newest first (a customer sees only their own)."""
        return returns.list_cases(current_actor(), args.pop("page_request"), **args)

    @requires(*OFFICE)
    @blp.arguments(ReturnCaseInSchema)
    @blp.response(201, ReturnCaseSchema)
    @blp.alt_response(409, description="The job already has an open return case")
    @blp.alt_response(422, description="Unknown job, unit or photo; unit not the job's; a report date in the "
                                       "future, or before the job's report without evidence")
    def post(self, data: dict[str, Any]) -> Any:
        """A returned unit arrives (office, admin): the customer's reason, description and photos; the job's
        warranty decision (R-RET-1/2) says which outcomes are possible. `reported_on` defaults to the server's
        receive day; a day before the job's server-stamped report needs `reported_on_evidence` (R-RET-1)."""
        with unit_of_work():
            return returns.receive(current_actor(), data)


@blp.route("/returns/<uuid:case_id>")
class ReturnItem(MethodView):
    @requires(*RETURN_READERS)
    @blp.response(200, ReturnCaseSchema)
    def get(self, case_id: uuid.UUID) -> Any:
        """One return case with its warranty decision, inspection and outcome."""
        return returns.get_case(current_actor(), case_id)


@blp.route("/returns/<uuid:case_id>/inspection")
class ReturnInspection(MethodView):
    @requires(*OFFICE)
    @blp.arguments(ReturnInspectionInSchema)
    @blp.response(200, ReturnCaseSchema)
    @blp.alt_response(409, description="Already inspected")
    def post(self, data: dict[str, Any], case_id: uuid.UUID) -> Any:
        """R-RET-3: the unit inspected against the customer's photos and description (a mismatch names the
        fault type found, and the warranty is decided again for it)."""
        with unit_of_work():
            return returns.inspect(current_actor(), case_id, data)


@blp.route("/returns/<uuid:case_id>/outcome")
class ReturnOutcomeView(MethodView):
    @requires(*OFFICE)
    @blp.arguments(ReturnCaseOutcomeInSchema)
    @blp.response(200, ReturnCaseSchema)
    @blp.alt_response(409, description="inspection_required, outcome_not_allowed or already decided")
    def post(self, data: dict[str, Any], case_id: uuid.UUID) -> Any:
        """Refund, exchange, repair or refused: only after the inspection and as the warranty decision allows."""
        with unit_of_work():
            return returns.decide(current_actor(), case_id, data)


@blp.route("/returns/<uuid:case_id>/close")
class ReturnClose(MethodView):
    @requires(*OFFICE)
    @blp.response(200, ReturnCaseSchema)
    @blp.alt_response(409, description="Not decided yet")
    def post(self, case_id: uuid.UUID) -> Any:
        """Close a decided case."""
        with unit_of_work():
            return returns.close(current_actor(), case_id)
