"""Demo data for `make run`: a small after-sales operation with Chinese customers. Loaded once."""
from __future__ import annotations

import base64
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from PIL import Image, ImageDraw

from fieldservice.assets.models import Asset
from fieldservice.auth import service as auth_service
from fieldservice.auth.models import Role, User
from fieldservice.auth.service import SYSTEM, Actor
from fieldservice.catalog.models import Product, ProductLine
from fieldservice.commerce import consultations, prices, quotes, warranty
from fieldservice.commerce.models import Consultation, PriceItemKind, PriceList, WarrantyTerms
from fieldservice.complaints import service as complaints
from fieldservice.complaints.models import Complaint, ComplaintChannel
from fieldservice.contracts.models import SalesChannel, SalesContract, SalesContractLine
from fieldservice.customers.models import Contact, Customer, Site
from fieldservice.db import utcnow
from fieldservice.extensions import db
from fieldservice.maintenance import service as maintenance
from fieldservice.maintenance.models import IntervalUnit, MaintenancePlan
from fieldservice.parts import service as parts
from fieldservice.parts.models import LocationKind, Part, StockLocation
from fieldservice.records import service as records
from fieldservice.records.models import RecordKind, ServiceRecord, SignerRole
from fieldservice.servicerequests.models import Channel, ServiceRequest
from fieldservice.sla import service as sla
from fieldservice.sla.models import SlaCalendar, SlaPolicy
from fieldservice.technicians.models import Certification, Technician
from fieldservice.visits import service as visits
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderKind

SHANGHAI = ZoneInfo("Asia/Shanghai")
NAMESPACE = uuid.UUID("6f1c2d1e-4a59-4a0e-9a53-2f3c5d6e7f80")
M = TypeVar("M")

DEMO_LOGINS = [
    ("admin", "keys-demo-pass", "admin"),
    ("dispatcher", "dispatch-demo-pass", "dispatcher"),
    ("office", "desk-demo-pass", "office"),
    ("parts", "stock-demo-pass", "parts_keeper"),
    ("tech.wang", "wang-demo-pass", "technician"),
    ("tech.li", "li-demo-pass", "technician"),
    ("customer", "client-demo-pass", "customer (华东精密制造有限公司)"),
]


def demo_id(name: str) -> uuid.UUID:
    """Stable ids make the seed idempotent: a record that exists is left alone."""
    return uuid.uuid5(NAMESPACE, name)


class _Seeder:
    def __init__(self) -> None:
        self.created = 0

    def ensure(self, model: type[M], key: str, /, **fields: Any) -> M:
        existing = db.session.get(model, demo_id(key))
        if existing is not None:
            return existing
        obj = model(id=demo_id(key), **fields)  # type: ignore[call-arg]
        db.session.add(obj)
        db.session.flush()
        self.created += 1
        return obj

    def user(self, username: str, password: str, role: Role, display_name: str,
             customer_id: uuid.UUID | None = None) -> User:
        existing = db.session.get(User, demo_id("user:" + username))
        if existing is not None:
            return existing
        self.created += 1
        return auth_service.create_user(username, password, role, display_name=display_name,
                                        customer_id=customer_id, id=demo_id("user:" + username))


def seed_demo(today: date | None = None) -> int:
    """Add the demo records that are missing; return how many were added."""
    s = _Seeder()
    today = today or utcnow().date()

    hvac = s.ensure(ProductLine, "line:hvac", code="HVAC", name="商用空调 Commercial HVAC")
    cnc = s.ensure(ProductLine, "line:cnc", code="CNC", name="数控机床 CNC machines")
    chiller = s.ensure(Product, "product:chiller", product_line_id=hvac.id, model_code="LS-200",
                       name="螺杆式冷水机组 LS-200 screw chiller", warranty_months=24)
    lathe = s.ensure(Product, "product:lathe", product_line_id=cnc.id, model_code="CK6150",
                     name="数控车床 CK6150 CNC lathe", warranty_months=12)

    acme = s.ensure(Customer, "customer:huadong", name="华东精密制造有限公司", phone="021-5555-0101",
                    email="service@huadong.example", preferred_language="zh")
    mall = s.ensure(Customer, "customer:mall", name="星河购物中心 Galaxy Mall", phone="0571-5555-0202",
                    preferred_language="zh")
    s.ensure(Contact, "contact:huadong:zhang", customer_id=acme.id, name="张伟", title="设备科长", phone="138-0000-0001",
             is_primary=True)
    s.ensure(Contact, "contact:mall:chen", customer_id=mall.id, name="陈静", title="工程部经理", phone="139-0000-0002",
             is_primary=True)
    plant = s.ensure(Site, "site:huadong:plant", customer_id=acme.id, name="松江工厂 Songjiang plant",
                     address="上海市松江区工业区路 88 号", city="上海", region="上海", country="CN")
    mall_site = s.ensure(Site, "site:mall:main", customer_id=mall.id, name="星河购物中心主楼",
                         address="杭州市西湖区文三路 200 号", city="杭州", region="浙江", country="CN")

    contract = s.ensure(SalesContract, "contract:huadong", number="HT-2026-0001", customer_id=acme.id,
                        signed_on=today - timedelta(days=200), currency="CNY")
    line = s.ensure(SalesContractLine, "contract:huadong:line1", contract_id=contract.id, position=1,
                    product_id=lathe.id, configuration="8 工位刀塔, FANUC 0i-TF", serial_number="CK6150-24-0007",
                    unit_price_minor=32_800_000, channel=SalesChannel.DIRECT, sale_date=today - timedelta(days=200),
                    ship_date=today - timedelta(days=190))
    mall_contract = s.ensure(SalesContract, "contract:mall", number="HT-2026-0002", customer_id=mall.id,
                             signed_on=today - timedelta(days=400), currency="CNY")
    mall_line = s.ensure(SalesContractLine, "contract:mall:line1", contract_id=mall_contract.id, position=1,
                         product_id=chiller.id, configuration="200RT, R134a", serial_number="LS200-23-0412",
                         unit_price_minor=118_000_000, channel=SalesChannel.DEALER,
                         sale_date=today - timedelta(days=400), ship_date=today - timedelta(days=380))
    lathe_unit = s.ensure(Asset, "asset:lathe", customer_id=acme.id, site_id=plant.id, product_id=lathe.id,
                          contract_line_id=line.id, serial_number="CK6150-24-0007",
                          install_date=today - timedelta(days=180), warranty_start=today - timedelta(days=180),
                          warranty_end=today + timedelta(days=184))
    chiller_unit = s.ensure(Asset, "asset:chiller", customer_id=mall.id, site_id=mall_site.id, product_id=chiller.id,
                            contract_line_id=mall_line.id, serial_number="LS200-23-0412",
                            install_date=today - timedelta(days=370), warranty_start=today - timedelta(days=370),
                            warranty_end=today + timedelta(days=360))

    s.user("admin", "keys-demo-pass", Role.ADMIN, "系统管理员 Admin")
    s.user("dispatcher", "dispatch-demo-pass", Role.DISPATCHER, "调度 刘洋")
    s.user("office", "desk-demo-pass", Role.OFFICE, "客服主管 周敏")
    s.user("parts", "stock-demo-pass", Role.PARTS_KEEPER, "备件管理 孙强")
    s.user("customer", "client-demo-pass", Role.CUSTOMER, "张伟 (华东精密)", customer_id=acme.id)
    wang_user = s.user("tech.wang", "wang-demo-pass", Role.TECHNICIAN, "王师傅")
    li_user = s.user("tech.li", "li-demo-pass", Role.TECHNICIAN, "李师傅")
    wang = s.ensure(Technician, "tech:wang", user_id=wang_user.id, name="王建国", phone="137-0000-1001",
                    home_base="上海")
    li = s.ensure(Technician, "tech:li", user_id=li_user.id, name="李明", phone="137-0000-1002", home_base="杭州")
    s.ensure(Certification, "cert:wang:cnc", technician_id=wang.id, product_line_id=cnc.id,
             certificate_number="SG-CNC-0113", issued_on=today - timedelta(days=300),
             expires_on=today + timedelta(days=400))
    s.ensure(Certification, "cert:wang:hvac", technician_id=wang.id, product_line_id=hvac.id,
             certificate_number="SG-HVAC-0098", issued_on=today - timedelta(days=800),
             expires_on=today - timedelta(days=30))  # expired: assigning Wang to HVAC is refused (R-TEC-1)
    s.ensure(Certification, "cert:li:hvac", technician_id=li.id, product_line_id=hvac.id,
             certificate_number="SG-HVAC-0131", issued_on=today - timedelta(days=200),
             expires_on=today + timedelta(days=500))

    request = s.ensure(ServiceRequest, "request:lathe-noise", customer_id=acme.id, asset_id=lathe_unit.id,
                       product_id=lathe.id, site_id=plant.id, channel=Channel.PHONE,
                       problem="主轴异响，加工精度下降 (spindle noise, accuracy dropping)",
                       reported_at=datetime.combine(today - timedelta(days=1), time(9, 30), UTC),
                       reporter_name="张伟", reporter_phone="138-0000-0001")

    # R-SLA-1: the calendar and default policy exist before the demo's work orders start their clocks
    _seed_sla(s, today)

    if db.session.get(WorkOrder, demo_id("wo:lathe")) is None:
        order = workorders.create_work_order(SYSTEM, {
            "id": demo_id("wo:lathe"), "kind": WorkOrderKind.REPAIR, "customer_id": acme.id, "site_id": plant.id,
            "asset_id": lathe_unit.id, "summary": "主轴异响 Spindle noise", "service_request_id": request.id})
        start = datetime.combine(today + timedelta(days=1), time(1, 0), UTC)  # 09:00 in Shanghai
        visits.schedule_visit(SYSTEM, order.id, {"id": demo_id("visit:lathe"), "scheduled_start": start,
                                                 "scheduled_end": start + timedelta(hours=3),
                                                 "technician_id": wang.id})
        s.created += 2
    if db.session.get(WorkOrder, demo_id("wo:chiller")) is None:
        order = workorders.create_work_order(SYSTEM, {
            "id": demo_id("wo:chiller"), "kind": WorkOrderKind.MAINTENANCE, "customer_id": mall.id,
            "site_id": mall_site.id, "asset_id": chiller_unit.id, "summary": "季度保养 Quarterly maintenance"})
        start = datetime.combine(today + timedelta(days=2), time(6, 0), UTC)
        visits.schedule_visit(SYSTEM, order.id, {"id": demo_id("visit:chiller"), "scheduled_start": start,
                                                 "scheduled_end": start + timedelta(hours=2), "technician_id": li.id})
        s.created += 2

    people = _People(wang=wang, li=li, office=_actor("office"), dispatcher=_actor("dispatcher"),
                     parts=_actor("parts"), tech_wang=_actor("tech.wang"), tech_li=_actor("tech.li"))
    _seed_commerce(s, products=(lathe, chiller))
    _seed_parts(s, today, people)
    _seed_maintenance(s, today, chiller_unit=chiller_unit, contract=contract, people=people)
    _seed_signed_repair(s, today, customer=acme, site=plant, asset=lathe_unit, people=people)
    _seed_signed_maintenance(s, today, customer=mall, site=mall_site, asset=chiller_unit, people=people)
    _seed_quote_awaiting_consent(s, today, customer=acme, site=plant, product=lathe, people=people)
    _seed_complaint_and_consultation(s, today, mall=mall, chiller=chiller, acme=acme, lathe=lathe, people=people)
    return s.created


# ---- everything built since the foundation -------------------------------------------------------
# Each block goes through the domain's service functions (so the demo obeys the same rules as the API and
# the phone) and is guarded by a stable id: a block whose key record exists is skipped as a whole (the seed
# runs in one transaction, so a block is either all there or not at all).

@dataclass(frozen=True)
class _People:
    wang: Technician
    li: Technician
    office: Actor
    dispatcher: Actor
    parts: Actor
    tech_wang: Actor
    tech_li: Actor


def _actor(username: str) -> Actor:
    user = db.session.get(User, demo_id("user:" + username))
    assert user is not None, username
    return auth_service.actor_for(user)


def _exists(model: type[Any], key: str) -> bool:
    return db.session.get(model, demo_id(key)) is not None


def _local(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall-clock time in Shanghai on `day`, as UTC."""
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(UTC)


def signature_png() -> str:
    """A small PNG of a hand-drawn-looking stroke (base64), the customer's signature on the phone."""
    image = Image.new("RGB", (160, 48), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.line([(8, 34), (30, 12), (52, 36), (74, 14), (96, 34), (120, 18), (150, 30)], fill=(20, 20, 90), width=3)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


PARTS = [  # part number, name, unit cost (fen), list price (fen), safety stock, received, to vans {tech: qty}
    ("CK-BRG-7210", "主轴轴承 7210 spindle bearing (原厂 genuine)", 68_000, 98_000, 4, 12, {"wang": 2}),
    ("CK-BELT-HTD", "冷却泵同步带 coolant pump belt (原厂 genuine)", 4_500, 8_800, 5, 20, {"wang": 3}),
    ("LS-FLT-200", "冷水机组油过滤器 LS-200 oil filter (原厂 genuine)", 12_000, 19_800, 10, 6, {"li": 2}),
    ("LS-RLY-24V", "压缩机继电器 24V compressor relay (原厂 genuine)", 9_000, 16_500, 3, 15, {"li": 3}),
]
LABOUR_CODE, ONSITE_CODE = "LABOUR-STD", "FEE-ONSITE"


def _seed_commerce(s: _Seeder, *, products: tuple[Product, Product]) -> None:
    """R-REP-8: a published price list (parts, labour per hour, on-site fee; fen, CNY); R-RET-1/2 terms."""
    if not _exists(PriceList, "pricelist:2026"):
        items: list[dict[str, Any]] = [
            {"kind": PriceItemKind.PART, "code": number, "name": name, "unit": "件", "unit_price_minor": price}
            for number, name, _cost, price, *_ in PARTS]
        items += [{"kind": PriceItemKind.LABOUR, "code": LABOUR_CODE, "name": "标准工时费 standard labour", "unit": "小时",
                   "unit_price_minor": 28_000},
                  {"kind": PriceItemKind.FEE, "code": ONSITE_CODE, "name": "上门服务费 on-site fee", "unit": "次",
                   "unit_price_minor": 30_000}]
        price_list = prices.create_price_list(SYSTEM, {"id": demo_id("pricelist:2026"), "currency": "CNY",
                                                       "name": "2026 售后服务价目表 after-sales price list",
                                                       "items": items})
        prices.publish(SYSTEM, price_list.id)
        s.created += 1
    if not _exists(WarrantyTerms, "warranty:default"):
        warranty.create_terms(SYSTEM, {
            "id": demo_id("warranty:default"), "product_id": None, "contract_id": None, "warranty_months": None,
            "covered_fault_types": ["quality"], "no_reason_return_days": 7, "quality_return_months": 1,
            "shipping_liability": dict(warranty.DEFAULT_TERMS["shipping_liability"]),
            "notes": "公司标准保修条款：7 天无理由退货，1 个月内质量问题退换，保修期内质量故障免费维修"})
        s.created += 1
    chiller = products[1]
    if not _exists(WarrantyTerms, "warranty:chiller"):
        warranty.create_terms(SYSTEM, {
            "id": demo_id("warranty:chiller"), "product_id": chiller.id, "contract_id": None, "warranty_months": 24,
            "covered_fault_types": ["quality", "component_failure"], "no_reason_return_days": 7,
            "quality_return_months": 1, "shipping_liability": dict(warranty.DEFAULT_TERMS["shipping_liability"]),
            "notes": "冷水机组整机保修 24 个月（压缩机等部件故障同样免费）"})
        s.created += 1


def _seed_parts(s: _Seeder, today: date, people: _People) -> None:
    """R-PRT-1/R-REP-6: genuine parts, the central warehouse and each technician's van with stock; the oil
    filter is received below its safety stock, so the warehouse has a reorder notification."""
    for number, name, cost, _price, safety, _received, _vans in PARTS:
        if not _exists(Part, "part:" + number):
            parts.create_part(people.parts, {"id": demo_id("part:" + number), "part_number": number, "name": name,
                                             "unit_cost_minor": cost, "currency": "CNY", "safety_stock": safety,
                                             "is_approved": True})
            s.created += 1
    if _exists(StockLocation, "location:WH-SH"):
        return
    warehouse = parts.create_location(people.parts, {"id": demo_id("location:WH-SH"), "code": "WH-SH",
                                                     "name": "上海中心仓 Shanghai central warehouse",
                                                     "kind": LocationKind.WAREHOUSE})
    vans = {key: parts.create_location(people.parts, {"id": demo_id(f"location:VAN-{key.upper()}"),
                                                      "code": f"VAN-{key.upper()}", "name": f"{tech.name} 的服务车",
                                                      "kind": LocationKind.VAN, "technician_id": tech.id})
            for key, tech in (("wang", people.wang), ("li", people.li))}
    s.created += 3
    # the opening stock is a month old, so the ledger has it before the demo's repair fitted a part from it
    received_at, loaded_at = _local(today - timedelta(days=30), 10), _local(today - timedelta(days=29), 8)
    for number, _name, _cost, _price, _safety, received, to_vans in PARTS:
        part_id = demo_id("part:" + number)
        parts.receive_stock(people.parts, {"part_id": part_id, "location_id": warehouse.id, "quantity": received,
                                           "reason": "期初入库 opening stock"}, now=received_at)
        for key, quantity in to_vans.items():
            parts.transfer_stock(people.parts, {"part_id": part_id, "from_location_id": warehouse.id,
                                                "to_location_id": vans[key].id, "quantity": quantity,
                                                "reason": "随车备件 van stock"}, now=loaded_at)
        s.created += 1 + len(to_vans)


def _seed_sla(s: _Seeder, today: date) -> None:
    """R-SLA-1: Shanghai business hours (Mon-Fri 09:00-18:00) with New Year's Day off, and the default
    policy (respond 30 min, on site 2 h, fixed 4 h, answer 24 h) on that calendar."""
    if not _exists(SlaCalendar, "sla:calendar"):
        sla.create_calendar(SYSTEM, {"id": demo_id("sla:calendar"), "name": "上海工作日 Shanghai business hours",
                                     "timezone": "Asia/Shanghai", "workdays": [1, 2, 3, 4, 5],
                                     "day_start": time(9, 0), "day_end": time(18, 0),
                                     "holidays": [date(today.year + 1, 1, 1)], "extra_workdays": []})
        s.created += 1
    if not _exists(SlaPolicy, "sla:policy"):
        # the default unless the operator already chose one (the demo never takes over a real setting)
        has_default = db.session.scalar(sa.select(SlaPolicy.id).where(SlaPolicy.is_default.is_(True)).limit(1))
        sla.create_policy(SYSTEM, {"id": demo_id("sla:policy"), "name": "标准服务承诺 standard pledge",
                                   "is_default": has_default is None, "calendar_id": demo_id("sla:calendar"),
                                   "respond_minutes": 30, "on_site_minutes": 120, "fix_minutes": 240,
                                   "answer_minutes": 24 * 60})
        s.created += 1


def _seed_maintenance(s: _Seeder, today: date, *, chiller_unit: Asset, contract: SalesContract,
                      people: _People) -> None:
    """R-MNT-1: a monthly plan on the chiller (Li) and a quarterly plan for the Huadong contract's units."""
    if not _exists(MaintenancePlan, "plan:chiller-monthly"):
        maintenance.create_plan(people.dispatcher, {
            "id": demo_id("plan:chiller-monthly"), "asset_id": chiller_unit.id, "name": "冷水机组月度保养 monthly chiller care",
            "items": [{"task": "检查制冷剂压力 check refrigerant pressures", "checklist": ["高压", "低压"]},
                      {"task": "清洗冷凝器 clean the condenser", "checklist": []},
                      {"task": "检查油过滤器 check the oil filter", "checklist": []}],
            "interval": 1, "interval_unit": IntervalUnit.MONTHS, "start_on": today + timedelta(days=7),
            "technician_id": people.li.id}, today=today)
        s.created += 1
    if not _exists(MaintenancePlan, "plan:huadong-contract"):
        maintenance.create_plan(people.dispatcher, {
            "id": demo_id("plan:huadong-contract"), "contract_id": contract.id,
            "name": "合同设备季度保养 quarterly care of the contract's machines",
            "items": [{"task": "主轴润滑与精度检测 spindle lubrication and accuracy check", "checklist": []}],
            "interval": 3, "interval_unit": IntervalUnit.MONTHS, "start_on": today + timedelta(days=14),
            "technician_id": people.wang.id}, today=today)
        s.created += 1


def _call_record(at: datetime) -> dict[str, str]:
    """The hotline's call record of a report taken by phone: evidence for a report day (R-RET-1)."""
    return {"kind": "call_record", "reference": f"CALL-{at.astimezone(SHANGHAI):%Y%m%d-%H%M}"}


def _sign(actor: Actor, record: ServiceRecord, key: str, signer: str, at: datetime) -> None:
    """The customer signs the record on the technician's phone (R-SIG-1), bound to the server's hash."""
    records.sign_record(actor, record.id, {
        "id": demo_id(key), "content_sha256": records.content_hash(record), "signer_name": signer,
        "signer_role": SignerRole.CUSTOMER, "signature_png": signature_png(), "device_id": "demo-phone",
        "device_time": at}, now=at)


def _seed_signed_repair(s: _Seeder, today: date, *, customer: Customer, site: Site, asset: Asset,
                        people: _People) -> None:
    """A repair finished three days ago on Huadong's lathe (in warranty: free, R-REP-8): Wang arrived, fitted
    a belt from his van (R-REP-6), reported the work complete, wrote the repair record (R-REP-5); the
    customer signed it, the acceptance (R-REP-7) and a satisfaction survey (R-FUP-2), so the job is signed
    and its follow-up call exists (R-FUP-1)."""
    if _exists(WorkOrder, "wo:lathe-coolant"):
        return
    day = today - timedelta(days=3)  # signed three days ago: the follow-up call (FOLLOWUP_REPAIR_DAYS=3) is due today
    reported = _local(day - timedelta(days=1), 16, 20)
    order = workorders.create_work_order(people.dispatcher, {
        "id": demo_id("wo:lathe-coolant"), "kind": WorkOrderKind.REPAIR, "customer_id": customer.id,
        "site_id": site.id, "asset_id": asset.id, "summary": "冷却泵不出水 Coolant pump delivers no coolant"},
        now=reported)
    # the demo writes history: the order row is created now, so the earlier report day is evidenced (R-RET-1)
    warranty.decide(people.office, order.id, {"fault_type": "quality", "reported_on": reported.date(),
                                              "reported_on_evidence": _call_record(reported)},
                    now=reported + timedelta(minutes=20))
    arrive, leave = _local(day, 9, 10), _local(day, 11, 40)
    visit = visits.schedule_visit(people.dispatcher, order.id, {
        "id": demo_id("visit:lathe-coolant"), "scheduled_start": _local(day, 9), "scheduled_end": _local(day, 12),
        "technician_id": people.wang.id}, now=reported + timedelta(minutes=25))
    visits.confirm_with_customer(people.dispatcher, visit.id, confirmed_at=reported + timedelta(minutes=30),
                                 note="张伟电话确认上午到场 confirmed by phone", now=reported + timedelta(minutes=30))
    visits.record_arrival(people.tech_wang, visit.id, arrived_at=arrive, now=arrive)
    parts.issue_to_job(people.tech_wang, {"id": demo_id("issue:lathe-coolant"), "part_id": demo_id("part:CK-BELT-HTD"),
                                          "work_order_id": order.id, "visit_id": visit.id, "quantity": 1},
                       now=arrive + timedelta(minutes=40))
    record = records.create_record(people.tech_wang, {
        "id": demo_id("record:lathe-coolant:repair"), "kind": RecordKind.REPAIR_RECORD, "visit_id": visit.id,
        "content": {
            "reported_fault": "冷却泵不出水，加工时工件过热 no coolant flow, workpieces overheating",
            "diagnosis": {"cause": "冷却泵同步带断裂 the coolant pump belt snapped", "difficulty": "low",
                          "estimated_cost_minor": 0, "estimated_hours": 1.0, "repair_location": "on_site"},
            "cause_explained": True,
            "work_done": "更换同步带，调整张紧度，清理冷却箱滤网 replaced the belt, set its tension, cleaned the tank screen",
            "parts_replaced": [{"part": "CK-BELT-HTD 冷却泵同步带", "quantity": 1}],
            "test_result": {"passed": True, "details": "连续运行 30 分钟，流量正常 30 min run, normal flow"},
            "retraining": {"given": True, "trainees": ["张伟"], "topics": ["冷却液液位日常检查 daily coolant level check"]},
        }}, now=leave - timedelta(minutes=5))
    visits.record_departure(people.tech_wang, visit.id, work_complete=True, departed_at=leave, now=leave)
    acceptance = records.create_record(people.tech_wang, {
        "id": demo_id("record:lathe-coolant:acceptance"), "kind": RecordKind.WORK_ORDER_ACCEPTANCE,
        "visit_id": visit.id, "content": {"outcome": "accepted", "comments": "维修及时，满意 quick repair, satisfied"}},
        now=leave + timedelta(minutes=6))
    survey = records.create_record(people.tech_wang, {
        "id": demo_id("record:lathe-coolant:survey"), "kind": RecordKind.SATISFACTION_SURVEY, "visit_id": visit.id,
        "content": {"ratings": {"response_time": 4, "attitude": 5, "quality": 5, "overall": 5},
                    "would_recommend": True, "comments": "王师傅很专业 Master Wang was very professional"}},
        now=leave + timedelta(minutes=7))
    _sign(people.tech_wang, record, "signoff:lathe-coolant:repair", "张伟", leave + timedelta(minutes=10))
    _sign(people.tech_wang, acceptance, "signoff:lathe-coolant:acceptance", "张伟", leave + timedelta(minutes=12))
    _sign(people.tech_wang, survey, "signoff:lathe-coolant:survey", "张伟", leave + timedelta(minutes=14))
    s.created += 9


def _seed_signed_maintenance(s: _Seeder, today: date, *, customer: Customer, site: Site, asset: Asset,
                             people: _People) -> None:
    """Last month's chiller maintenance at the mall, its record signed by the mall's engineer (R-MNT-3): a
    second customer in the archive, which the Huadong customer login must not see (R-ARC-3)."""
    if _exists(WorkOrder, "wo:chiller-last-month"):
        return
    day = today - timedelta(days=25)
    opened = _local(day - timedelta(days=7), 10)
    order = workorders.create_work_order(people.dispatcher, {
        "id": demo_id("wo:chiller-last-month"), "kind": WorkOrderKind.MAINTENANCE, "customer_id": customer.id,
        "site_id": site.id, "asset_id": asset.id, "summary": "月度保养 Monthly maintenance"}, now=opened)
    visit = visits.schedule_visit(people.dispatcher, order.id, {
        "id": demo_id("visit:chiller-last-month"), "scheduled_start": _local(day, 14), "scheduled_end": _local(day, 16),
        "technician_id": people.li.id}, now=opened)
    arrive, leave = _local(day, 14, 5), _local(day, 15, 50)
    visits.confirm_with_customer(people.dispatcher, visit.id, confirmed_at=opened + timedelta(days=1),
                                 note="陈静确认下午到场 confirmed by the mall's engineer", now=opened + timedelta(days=1))
    visits.record_arrival(people.tech_li, visit.id, arrived_at=arrive, now=arrive)
    record = records.create_record(people.tech_li, {
        "id": demo_id("record:chiller-last-month"), "kind": RecordKind.MAINTENANCE_RECORD, "visit_id": visit.id,
        "content": {"plan_items": [{"item": "检查制冷剂压力", "done": True, "note": "正常"},
                                   {"item": "清洗冷凝器", "done": True}],
                    "findings": "油过滤器压差偏高，下次保养更换 oil filter pressure drop high; replace next time",
                    "measurements": [{"name": "冷冻水出水温度 chilled water out", "value": 7.2, "unit": "°C"}],
                    "training": {"given": False}}}, now=leave - timedelta(minutes=3))
    visits.record_departure(people.tech_li, visit.id, work_complete=True, departed_at=leave, now=leave)
    _sign(people.tech_li, record, "signoff:chiller-last-month", "陈静", leave + timedelta(minutes=5))
    s.created += 4


def _seed_quote_awaiting_consent(s: _Seeder, today: date, *, customer: Customer, site: Site, product: Product,
                                 people: _People) -> None:
    """An older lathe of Huadong's, out of warranty: the warranty decision says paid repair (R-REP-8), a quote
    from the price list was presented yesterday and waits for the customer's consent (R-REP-4)."""
    old_lathe = s.ensure(Asset, "asset:lathe-2021", customer_id=customer.id, site_id=site.id, product_id=product.id,
                         serial_number="CK6150-21-0003", install_date=today - timedelta(days=4 * 365),
                         warranty_start=today - timedelta(days=4 * 365),
                         warranty_end=today - timedelta(days=3 * 365))
    if _exists(WorkOrder, "wo:lathe-2021"):
        return
    opened = _local(today - timedelta(days=1), 10, 15)
    order = workorders.create_work_order(people.dispatcher, {
        "id": demo_id("wo:lathe-2021"), "kind": WorkOrderKind.REPAIR, "customer_id": customer.id, "site_id": site.id,
        "asset_id": old_lathe.id, "summary": "主轴轴承磨损，需更换 Spindle bearings worn, need replacing"}, now=opened)
    warranty.decide(people.office, order.id, {"fault_type": "wear", "reported_on": opened.date(),
                                              "reported_on_evidence": _call_record(opened)},
                    now=opened + timedelta(minutes=10))
    start = _local(today + timedelta(days=3), 9)
    visits.schedule_visit(people.dispatcher, order.id, {
        "id": demo_id("visit:lathe-2021"), "scheduled_start": start, "scheduled_end": start + timedelta(hours=4),
        "technician_id": people.wang.id}, now=opened + timedelta(minutes=15))
    quotes.create_quote(people.office, {
        "id": demo_id("quote:lathe-2021"), "work_order_id": order.id,
        "notes": "设备已过保修期，更换一对主轴轴承；客户确认后上门施工 out of warranty: a pair of spindle bearings",
        "lines": [{"kind": PriceItemKind.PART, "code": "CK-BRG-7210", "quantity_centi": 200},
                  {"kind": PriceItemKind.LABOUR, "code": LABOUR_CODE, "quantity_centi": 350},
                  {"kind": PriceItemKind.FEE, "code": ONSITE_CODE, "quantity_centi": 100}]},
        now=opened + timedelta(minutes=30))
    quotes.present(people.office, demo_id("quote:lathe-2021"), now=opened + timedelta(minutes=35))
    s.created += 4


def _seed_complaint_and_consultation(s: _Seeder, today: date, *, mall: Customer, chiller: Product,
                                     acme: Customer, lathe: Product, people: _People) -> None:
    """R-CMP-1: a complaint received 30 hours ago without a first response (overdue on /office/complaints);
    R-CON-1: a consultation answered on the phone."""
    description = "冷水机组噪音大，多次反映未解决 the chiller is loud; reported several times, still not fixed"
    exists = db.session.scalar(sa.select(Complaint.id).where(Complaint.customer_id == mall.id,
                                                             Complaint.description == description).limit(1))
    if exists is None:
        now = utcnow()
        complaints.log_complaint(people.office, {
            "customer_id": mall.id, "product_id": chiller.id, "channel": ComplaintChannel.PHONE,
            "description": description, "received_at": now - timedelta(hours=30),
            "owner_user_id": people.office.user_id}, now=now)
        s.created += 1
    if not _exists(Consultation, "consultation:coolant"):
        consultations.log_consultation(people.dispatcher, {
            "id": demo_id("consultation:coolant"), "customer_id": acme.id, "product_id": lathe.id,
            "topic": "冷却液 coolant", "question": "冷却液多久更换一次？ How often should the coolant be changed?",
            "answer": "正常使用每 3 个月更换，夏季每 2 个月 every 3 months, every 2 in summer", "channel": "phone",
            "consulted_at": _local(today - timedelta(days=2), 14, 30)})
        s.created += 1
