"""Demo data for `make run`: a small after-sales operation with Chinese customers. Loaded once."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

from fieldservice.assets.models import Asset
from fieldservice.auth import service as auth_service
from fieldservice.auth.models import Role, User
from fieldservice.auth.service import SYSTEM
from fieldservice.catalog.models import Product, ProductLine
from fieldservice.contracts.models import SalesChannel, SalesContract, SalesContractLine
from fieldservice.customers.models import Contact, Customer, Site
from fieldservice.db import utcnow
from fieldservice.extensions import db
from fieldservice.servicerequests.models import Channel, ServiceRequest
from fieldservice.technicians.models import Certification, Technician
from fieldservice.visits import service as visits
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderKind

NAMESPACE = uuid.UUID("6f1c2d1e-4a59-4a0e-9a53-2f3c5d6e7f80")
M = TypeVar("M")

DEMO_LOGINS = [
    ("admin", "admin-demo-pass", "admin"),
    ("dispatcher", "dispatch-demo-pass", "dispatcher"),
    ("office", "office-demo-pass", "office"),
    ("parts", "parts-demo-pass", "parts_keeper"),
    ("tech.wang", "wang-demo-pass", "technician"),
    ("tech.li", "li-demo-pass", "technician"),
    ("customer", "customer-demo-pass", "customer (华东精密制造有限公司)"),
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

    s.user("admin", "admin-demo-pass", Role.ADMIN, "系统管理员 Admin")
    s.user("dispatcher", "dispatch-demo-pass", Role.DISPATCHER, "调度 刘洋")
    s.user("office", "office-demo-pass", Role.OFFICE, "客服主管 周敏")
    s.user("parts", "parts-demo-pass", Role.PARTS_KEEPER, "备件管理 孙强")
    s.user("customer", "customer-demo-pass", Role.CUSTOMER, "张伟 (华东精密)", customer_id=acme.id)
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
    return s.created
