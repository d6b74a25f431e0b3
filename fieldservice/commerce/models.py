"""Warranty terms and decisions, price lists, quotes, consents, visit charges, consultations, advisories.

Money is always integer minor units plus an ISO 4217 currency; quantities are integer hundredths
(`quantity_centi`, 150 = 1.5 hours) so totals are exact.
"""
from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.changes import ChangeTracked
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column, utcnow
from fieldservice.extensions import db

# ---- warranty (R-RET-1/2, R-REP-8) ---------------------------------------------------------------


class Payer(enum.StrEnum):
    COMPANY = "company"
    CUSTOMER = "customer"


class WarrantyOption(enum.StrEnum):
    NO_REASON_RETURN = "no_reason_return"              # within the no-reason window (R-RET-1: 7 days)
    QUALITY_RETURN_OR_EXCHANGE = "quality_return_or_exchange"  # quality fault within the first month
    WARRANTY_REPAIR = "warranty_repair"                # covered fault within the warranty: free (R-REP-8)
    PAID_REPAIR = "paid_repair"                        # everything else: quoted, chargeable


class WarrantyTerms(UUIDPrimaryKey, Timestamps, db.Model):
    """Configurable warranty and return terms. A row applies to a product, a sales contract, both, or
    neither (the company default); the most specific row wins (contract+product, contract, product, default)."""

    __tablename__ = "warranty_terms"
    __table_args__ = (sa.UniqueConstraint("product_id", "contract_id"),)

    product_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("products.id"), index=True)
    contract_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sales_contracts.id"), index=True)
    warranty_months: Mapped[int | None]          # None: the product's warranty_months / the asset's warranty_end
    covered_fault_types: Mapped[list[Any]] = mapped_column(sa.JSON)
    no_reason_return_days: Mapped[int] = mapped_column(default=7)
    quality_return_months: Mapped[int] = mapped_column(default=1)
    # {fault_type: {"outbound": "company"|"customer", "return": ...}}; fault types not listed are "unclear"
    shipping_liability: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    notes: Mapped[str | None] = mapped_column(sa.Text)


class WarrantyDecision(UUIDPrimaryKey, Timestamps, db.Model):
    """The decision for one job (work order): in or out of warranty, which option applies, who pays shipping.
    One current decision per work order; deciding again replaces it (the audit trail keeps the old one)."""

    __tablename__ = "warranty_decisions"

    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), unique=True)
    asset_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("assets.id"))
    terms_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("warranty_terms.id"))
    fault_type: Mapped[str] = mapped_column(sa.String(40))
    reported_on: Mapped[date]
    # R-RET-1: where reported_on comes from (warranty.REPORT_SOURCES) and, for a back-dated report, the
    # evidence the office gave ({kind, reference, photo_id?}); never a bare client-supplied date
    reported_on_source: Mapped[str | None] = mapped_column(sa.String(20))
    reported_on_evidence: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    in_warranty: Mapped[bool]
    option: Mapped[WarrantyOption] = mapped_column(enum_column(WarrantyOption))
    chargeable: Mapped[bool]
    shipping_outbound_payer: Mapped[Payer] = mapped_column(enum_column(Payer))
    shipping_return_payer: Mapped[Payer] = mapped_column(enum_column(Payer))
    basis: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    decided_at: Mapped[datetime]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))


# ---- price list (R-REP-8) ------------------------------------------------------------------------


class PriceListStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"     # the one current list
    RETIRED = "retired"         # replaced by a later published list


class PriceItemKind(enum.StrEnum):
    PART = "part"
    LABOUR = "labour"           # per hour
    FEE = "fee"                 # on-site / travel fee


class PriceList(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "price_lists"
    __table_args__ = (
        # at most one published (current) list, on both databases
        sa.Index("uq_price_lists_one_published", "status", unique=True,
                 sqlite_where=sa.text("status = 'published'"), postgresql_where=sa.text("status = 'published'")),
    )

    name: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[int] = mapped_column(unique=True)
    status: Mapped[PriceListStatus] = mapped_column(enum_column(PriceListStatus), default=PriceListStatus.DRAFT)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    items: Mapped[list[PriceListItem]] = relationship(back_populates="price_list", order_by="PriceListItem.code",
                                                      cascade="all, delete-orphan")


class PriceListItem(UUIDPrimaryKey, db.Model):
    __tablename__ = "price_list_items"
    __table_args__ = (sa.UniqueConstraint("price_list_id", "kind", "code"),)

    price_list_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("price_lists.id"), index=True)
    kind: Mapped[PriceItemKind] = mapped_column(enum_column(PriceItemKind))
    code: Mapped[str] = mapped_column(sa.String(80))        # part number, or e.g. LABOUR-STD, FEE-ONSITE
    name: Mapped[str] = mapped_column(sa.String(200))
    unit: Mapped[str] = mapped_column(sa.String(20), default="each")
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)

    price_list: Mapped[PriceList] = relationship(back_populates="items")


# ---- quotes and consent (R-REP-4, R-REP-8) -------------------------------------------------------


class QuoteStatus(enum.StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"   # more than the allowed deviation below the list: a manager decides
    APPROVED = "approved"
    PRESENTED = "presented"                 # content frozen and hashed; the customer decides
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


EDITABLE_QUOTE = (QuoteStatus.DRAFT, QuoteStatus.PENDING_APPROVAL, QuoteStatus.APPROVED)


class Quote(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "quotes"

    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    price_list_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("price_lists.id"))
    # a supplementary quote (problems found during the work) references the original (R-REP-4)
    supplements_quote_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("quotes.id"), index=True)
    # a revised quote replaces an earlier one, which becomes superseded when this one is presented
    replaces_quote_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("quotes.id"))
    status: Mapped[QuoteStatus] = mapped_column(enum_column(QuoteStatus), default=QuoteStatus.DRAFT, index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    list_total_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    total_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    requires_approval: Mapped[bool] = mapped_column(default=False)
    approved_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    approval_note: Mapped[str | None] = mapped_column(sa.String(1000))
    presented_at: Mapped[datetime | None]
    content_sha256: Mapped[str | None] = mapped_column(sa.String(64))    # frozen when presented
    decided_at: Mapped[datetime | None]
    link_token_sha256: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    link_expires_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    # R-REP-8: an out-of-warranty quote above REPAIR_AGREEMENT_THRESHOLD_MINOR needs a written repair
    # agreement; decided and frozen when presented, the text is part of the canonical JSON the consent binds
    agreement_required: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    agreement_text: Mapped[str | None] = mapped_column(sa.Text)

    lines: Mapped[list[QuoteLine]] = relationship(back_populates="quote", order_by="QuoteLine.position",
                                                  cascade="all, delete-orphan")


class QuoteLine(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "quote_lines"
    __table_args__ = (sa.UniqueConstraint("quote_id", "position"),)

    quote_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("quotes.id"), index=True)
    position: Mapped[int]
    kind: Mapped[PriceItemKind] = mapped_column(enum_column(PriceItemKind))
    code: Mapped[str] = mapped_column(sa.String(80))
    description: Mapped[str] = mapped_column(sa.String(500))
    quantity_centi: Mapped[int]
    list_unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    line_total_minor: Mapped[int] = mapped_column(sa.BigInteger)
    list_total_minor: Mapped[int] = mapped_column(sa.BigInteger)

    quote: Mapped[Quote] = relationship(back_populates="lines")


class ConsentDecision(enum.StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ConsentChannel(enum.StrEnum):
    DEVICE = "device"       # the customer on the technician's phone (API or sync push)
    LINK = "link"           # the customer's own link
    PORTAL = "portal"       # a customer login
    STAFF = "staff"         # recorded by a dispatcher/admin from evidence (a call, an email, a signed document)


class ConsentEvidenceKind(enum.StrEnum):
    """How the customer gave a consent that staff recorded (R-REP-4): never a device signature."""

    PHONE_CALL = "phone_call"
    EMAIL = "email"
    SIGNED_DOCUMENT = "signed_document"
    IN_PERSON = "in_person"


class QuoteConsent(UUIDPrimaryKey, ChangeTracked, db.Model):
    """The customer's accept/decline of exactly one presented quote, bound to its canonical SHA-256."""

    __tablename__ = "quote_consents"

    quote_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("quotes.id"), unique=True)
    decision: Mapped[ConsentDecision] = mapped_column(enum_column(ConsentDecision))
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    signer_name: Mapped[str] = mapped_column(sa.String(120))
    channel: Mapped[ConsentChannel] = mapped_column(enum_column(ConsentChannel))
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"))
    signature_png: Mapped[str | None] = mapped_column(sa.Text)            # base64
    signature_png_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    # R-REP-8: SHA-256 of the repair agreement text the customer signed (accepting a high-cost quote)
    agreement_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    device_id: Mapped[str | None] = mapped_column(sa.String(120))
    device_time: Mapped[datetime | None]
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)        # server time
    captured_by_user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    # R-REP-4, channel `staff` only: how and when the customer gave the consent the staff member recorded, a
    # reference to the record of it (call record number, email id, document number), optionally a scan of the
    # signed document (a photo of the same work order)
    evidence_kind: Mapped[ConsentEvidenceKind | None] = mapped_column(enum_column(ConsentEvidenceKind))
    evidence_reference: Mapped[str | None] = mapped_column(sa.String(200))
    evidence_at: Mapped[datetime | None]
    evidence_photo_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("photos.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VisitCharge(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    """Chargeable work recorded on a visit: a part (with serials), labour hours or a fee (R-REP-4).
    On a chargeable job it must be covered by an accepted quote line; `quote_line_id` names that line.
    A part is an approved catalog part issued from stock (R-REP-6): `stock_movement_id` names its one issue
    ledger line (unique: a ledger line backs one charge)."""

    __tablename__ = "visit_charges"

    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"))
    kind: Mapped[PriceItemKind] = mapped_column(enum_column(PriceItemKind))
    code: Mapped[str] = mapped_column(sa.String(80))
    description: Mapped[str | None] = mapped_column(sa.String(500))
    quantity_centi: Mapped[int]
    serial_numbers: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    quote_line_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("quote_lines.id"), index=True)
    stock_movement_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("stock_movements.id"), unique=True)
    warranty: Mapped[bool] = mapped_column(default=False)       # free under warranty: no consent needed
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    device_time: Mapped[datetime | None]
    received_at: Mapped[datetime | None]


# ---- returns and exchanges (R-RET-1/2/3) --------------------------------------------------------


class ReturnStatus(enum.StrEnum):
    RECEIVED = "received"       # the unit is back; the warranty decision says which outcomes are possible
    INSPECTED = "inspected"     # compared against the customer's photos and description (R-RET-3)
    DECIDED = "decided"         # refund, exchange, repair or refused
    CLOSED = "closed"


class ReturnOutcome(enum.StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    REFUSED = "refused"


class ReturnCase(UUIDPrimaryKey, Timestamps, db.Model):
    """A unit the customer sent back (R-RET-3): what they said and showed, the warranty decision (R-RET-1/2)
    on its job, the inspection against the photos and description, then the outcome."""

    __tablename__ = "return_cases"

    number: Mapped[str] = mapped_column(sa.String(40), unique=True)
    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("products.id"))
    asset_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("assets.id"), index=True)
    serial_number: Mapped[str | None] = mapped_column(sa.String(100))
    reason: Mapped[str] = mapped_column(sa.String(40))            # the customer's fault type (no_reason, quality, ...)
    description: Mapped[str] = mapped_column(sa.Text)             # the customer's own description
    photo_ids: Mapped[list[Any]] = mapped_column(sa.JSON)          # the customer's photos (of the case's job)
    reported_on: Mapped[date]
    reported_on_source: Mapped[str | None] = mapped_column(sa.String(20))      # as on WarrantyDecision (R-RET-1)
    reported_on_evidence: Mapped[dict[str, Any] | None] = mapped_column(sa.JSON)
    received_at: Mapped[datetime]
    status: Mapped[ReturnStatus] = mapped_column(enum_column(ReturnStatus), default=ReturnStatus.RECEIVED,
                                                 index=True)
    # the warranty decision (R-RET-1/2) of the job, copied when received and again after the inspection
    warranty_option: Mapped[WarrantyOption] = mapped_column(enum_column(WarrantyOption))
    in_warranty: Mapped[bool]
    chargeable: Mapped[bool]
    shipping_outbound_payer: Mapped[Payer] = mapped_column(enum_column(Payer))
    shipping_return_payer: Mapped[Payer] = mapped_column(enum_column(Payer))
    allowed_outcomes: Mapped[list[Any]] = mapped_column(sa.JSON)
    # the inspection (R-RET-3)
    inspected_at: Mapped[datetime | None]
    inspected_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    inspector_name: Mapped[str | None] = mapped_column(sa.String(120))
    matches_description: Mapped[bool | None]
    findings: Mapped[str | None] = mapped_column(sa.Text)
    found_fault_type: Mapped[str | None] = mapped_column(sa.String(40))
    inspection_photo_ids: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    # the outcome
    outcome: Mapped[ReturnOutcome | None] = mapped_column(enum_column(ReturnOutcome))
    outcome_note: Mapped[str | None] = mapped_column(sa.String(2000))
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))


# ---- consultations and advisories (R-CON-1) ------------------------------------------------------


class Consultation(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "consultations"
    __table_args__ = (sa.Index("ix_consultations_product_topic", "product_id", "topic"),)

    customer_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    product_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("products.id"))
    topic: Mapped[str] = mapped_column(sa.String(120))
    question: Mapped[str] = mapped_column(sa.Text)
    answer: Mapped[str | None] = mapped_column(sa.Text)
    channel: Mapped[str] = mapped_column(sa.String(20), default="phone")
    consulted_at: Mapped[datetime] = mapped_column(index=True)
    handled_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    handled_by_name: Mapped[str] = mapped_column(sa.String(120))
    advisory_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("advisory_notices.id"))
    # the service request answered on the spot that this consultation logs (R-REP-1); one per request
    service_request_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("service_requests.id"), unique=True)


class AdvisoryStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"


class AdvisoryNotice(UUIDPrimaryKey, Timestamps, db.Model):
    """A recurring problem turned into a notice to every customer owning an affected product model."""

    __tablename__ = "advisory_notices"

    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    topic: Mapped[str | None] = mapped_column(sa.String(120))
    product_ids: Mapped[list[Any]] = mapped_column(sa.JSON)
    status: Mapped[AdvisoryStatus] = mapped_column(enum_column(AdvisoryStatus), default=AdvisoryStatus.DRAFT)
    first_sent_at: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
