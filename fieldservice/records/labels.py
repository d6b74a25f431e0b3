"""Chinese and English labels for every record kind's fields and values: one table used by the signing page
(fieldservice/signing) and the PDFs (records/pdf.py), so the customer reads the same words in both."""
from __future__ import annotations

from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# field name -> (zh, en); the same field name means the same thing in every record kind
FIELDS: dict[str, tuple[str, str]] = {
    # installation sheet (R-INS-1..6)
    "unpacking": ("开箱检验", "Unpacking inspection"),
    "inspected_on": ("检验日期", "Inspected on"),
    "parties": ("在场人员", "Parties present"),
    "sales": ("销售代表", "Sales"),
    "delivery": ("物流/送货", "Delivery"),
    "customer_representative": ("客户代表", "Customer representative"),
    "packaging": ("包装状况", "Packaging"),
    "damaged": ("包装破损", "Damaged"),
    "description": ("描述", "Description"),
    "photo_ids": ("照片", "Photos"),
    "carrier_name": ("承运商", "Carrier"),
    "waybill_no": ("运单号", "Waybill no."),
    "contract_check": ("合同核对", "Contract check"),
    "item": ("项目", "Item"),
    "expected": ("合同约定", "Contract says"),
    "found": ("实际交付", "Delivered"),
    "resolved": ("已解决", "Resolved"),
    "resolution": ("解决方式", "Resolution"),
    "commissioning": ("调试结果", "Commissioning"),
    "measured": ("实测值", "Measured"),
    "unit": ("单位", "Unit"),
    "expected_min": ("下限", "Minimum"),
    "expected_max": ("上限", "Maximum"),
    "training": ("操作培训", "Training"),
    "given": ("已培训", "Given"),
    "trainer": ("培训人", "Trainer"),
    "trainees": ("受训人", "Trainees"),
    "topics": ("培训内容", "Topics"),
    "not_given_reason": ("未培训原因", "Why no training was given"),
    "install_steps": ("安装步骤", "Installation steps"),
    "step": ("步骤", "Step"),
    "installed_serial_number": ("安装设备序列号", "Installed serial number"),
    "installed_on": ("安装日期", "Installed on"),
    "notes": ("备注", "Notes"),
    # repair record (R-REP-3..5)
    "reported_fault": ("报修故障", "Reported fault"),
    "diagnosis": ("故障诊断", "Diagnosis"),
    "cause": ("故障原因", "Cause"),
    "difficulty": ("维修难度", "Difficulty"),
    "estimated_cost_minor": ("预估费用", "Estimated cost"),
    "estimated_hours": ("预估工时（小时）", "Estimated hours"),
    "repair_location": ("维修地点", "Repair location"),
    "cause_explained": ("已向客户说明原因", "Cause explained to customer"),
    "work_done": ("维修内容", "Work done"),
    "parts_replaced": ("更换配件", "Parts replaced"),
    "part": ("配件", "Part"),
    "quantity": ("数量", "Quantity"),
    "serial_in": ("新件序列号", "Serial fitted"),
    "serial_out": ("旧件序列号", "Serial removed"),
    "test_result": ("试机结果", "Test result"),
    "passed": ("合格", "Passed"),
    "details": ("详情", "Details"),
    "retraining": ("再次培训", "Retraining"),
    # maintenance record (R-MNT-3)
    "plan_items": ("保养项目", "Plan items"),
    "done": ("已完成", "Done"),
    "note": ("说明", "Note"),
    "findings": ("检查发现", "Findings"),
    "measurements": ("测量数据", "Measurements"),
    "name": ("名称", "Name"),
    "value": ("数值", "Value"),
    # work-order acceptance (R-REP-7)
    "outcome": ("验收结论", "Outcome"),
    "comments": ("意见", "Comments"),
    "rejection_reason": ("不验收原因", "Reason for rejection"),
    # satisfaction survey (R-FUP-2)
    "ratings": ("满意度评分（1-5）", "Ratings (1-5)"),
    "response_time": ("响应速度", "Response time"),
    "attitude": ("服务态度", "Attitude"),
    "quality": ("维修质量", "Quality"),
    "overall": ("总体评价", "Overall"),
    "would_recommend": ("愿意推荐", "Would recommend"),
}

# enumerated values -> (zh, en)
VALUES: dict[str, tuple[str, str]] = {
    "model": ("型号", "Model"),
    "configuration": ("配置", "Configuration"),
    "serial_number": ("序列号", "Serial number"),
    "low": ("低", "Low"),
    "medium": ("中", "Medium"),
    "high": ("高", "High"),
    "on_site": ("现场维修", "On site"),
    "workshop": ("返厂（维修车间）", "Workshop"),
    "factory": ("返回工厂", "Factory"),
    "accepted": ("验收合格", "Accepted"),
    "rejected": ("不予验收（返工）", "Rejected (rework)"),
}

KINDS: dict[str, tuple[str, str]] = {
    "installation_sheet": ("装机单", "Installation sheet"),
    "repair_record": ("维修记录", "Repair record"),
    "maintenance_record": ("保养记录", "Maintenance record"),
    "work_order_acceptance": ("工单验收", "Work-order acceptance"),
    "satisfaction_survey": ("满意度调查", "Satisfaction survey"),
    "service_report": ("售后服务报告单", "Service report"),
}

# page and PDF texts
TEXT: dict[str, tuple[str, str]] = {
    "title": ("客户签字确认", "Customer sign-off"),
    "customer": ("客户", "Customer"),
    "product": ("产品", "Product"),
    "serial": ("序列号", "Serial number"),
    "site": ("地点", "Site"),
    "work_order": ("工单号", "Work order"),
    "version": ("版本", "Version"),
    "technician": ("服务工程师", "Technician"),
    "document_hash": ("文件哈希 (SHA-256)", "Document hash (SHA-256)"),
    "signer_name": ("签字人姓名", "Your name"),
    "sign_here": ("请在下方框内签字", "Please sign in the box below"),
    "clear": ("清除", "Clear"),
    "submit": ("确认签字", "Sign"),
    "confirm": ("本人已阅读并确认以上内容。", "I have read and confirm the content above."),
    "signed_ok": ("签字成功，谢谢！", "Signed. Thank you!"),
    "download_pdf": ("下载 PDF", "Download PDF"),
    "signed_by": ("签字人", "Signed by"),
    "signed_at": ("签字时间", "Signed at"),
    "signature": ("客户签字", "Customer signature"),
    "not_signed": ("未签字", "Not signed"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "empty": ("—", "—"),
    "need_name": ("请填写姓名", "Please enter your name"),
    "need_signature": ("请先签字", "Please sign first"),
    "work_not_complete": ("服务尚未完成，暂不能签字。", "The service is not complete yet, so it cannot be signed."),
    "already_signed": ("此记录已签字，无需再次签字。", "This record has already been signed."),
    "conditions_not_met": ("此记录暂不能签字，请联系服务人员。", "This record cannot be signed yet; please ask the service team."),
    "installation_blocked": ("装机单暂不能签字：到货与合同不符尚未处理，或调试、安装步骤、培训记录未完成。请联系服务人员。",
                             "The installation sheet cannot be signed yet: a difference from the contract is not "
                             "resolved, or commissioning, installation steps or training are not complete. Please "
                             "contact the service team."),
    "link_used": ("此签字链接已使用。", "This signing link has already been used."),
    "pdf_still_available": ("记录已签字，您仍可下载已签字记录的 PDF。",
                            "The record has been signed; you can still download the signed PDF."),
    "link_expired": ("此签字链接已过期，请联系服务人员获取新链接。",
                     "This signing link has expired; ask the service team for a new one."),
    "link_unknown": ("签字链接无效。", "This signing link is not valid."),
    "error": ("无法签字", "Cannot sign"),
    "language": ("English", "中文"),
    "report_records": ("服务记录", "Service records"),
    "report_hash": ("报告哈希 (SHA-256)", "Report hash (SHA-256)"),
    "page": ("第 {n} 页", "Page {n}"),
}


def lang_index(lang: str) -> int:
    return 1 if lang == "en" else 0


def field_label(name: str, lang: str) -> str:
    pair = FIELDS.get(name)
    return pair[lang_index(lang)] if pair else name.replace("_", " ")


def value_text(name: str, value: Any, lang: str) -> str:
    """A scalar as the customer reads it: yes/no, money in major units, enumerated values translated."""
    i = lang_index(lang)
    if value is None or value == "" or value == []:
        return TEXT["empty"][i]
    if isinstance(value, bool):
        return TEXT["yes" if value else "no"][i]
    if name == "estimated_cost_minor" and isinstance(value, int):
        return f"{value // 100}.{value % 100:02d}"
    if isinstance(value, str) and value in VALUES and name in ("item", "difficulty", "repair_location", "outcome"):
        return VALUES[value][i]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def text(key: str, lang: str) -> str:
    return TEXT[key][lang_index(lang)]


def kind_label(kind: str, lang: str) -> str:
    pair = KINDS.get(kind)
    return pair[lang_index(lang)] if pair else kind


def rows(content: Any, lang: str, *, depth: int = 0, name: str = "") -> list[dict[str, Any]]:
    """Flatten a record's content into display rows: {depth, label, value, photo_ids}. Nested objects and
    lists of objects become a heading row followed by their fields one level deeper; `photo_ids` lists
    become a row carrying the ids (the page and the PDF show the pictures)."""
    out: list[dict[str, Any]] = []
    if isinstance(content, dict):
        for key, value in content.items():
            label = field_label(key, lang)
            if key == "photo_ids":
                if value:
                    out.append({"depth": depth, "label": label, "value": "", "photo_ids": list(value)})
            elif isinstance(value, dict):
                out.append({"depth": depth, "label": label, "value": "", "photo_ids": []})
                out.extend(rows(value, lang, depth=depth + 1))
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                out.append({"depth": depth, "label": label, "value": "", "photo_ids": []})
                for n, item in enumerate(value, 1):
                    out.append({"depth": depth + 1, "label": f"#{n}", "value": "", "photo_ids": []})
                    out.extend(rows(item, lang, depth=depth + 2))
            elif isinstance(value, list):
                shown = "、".join(value_text(key, v, lang) for v in value) if lang == "zh" else \
                    ", ".join(value_text(key, v, lang) for v in value)
                out.append({"depth": depth, "label": label, "value": shown or text("empty", lang), "photo_ids": []})
            else:
                out.append({"depth": depth, "label": label, "value": value_text(key, value, lang), "photo_ids": []})
    return out
