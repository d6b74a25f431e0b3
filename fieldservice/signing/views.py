"""The customer's signing page `/sign/<token>` (server-rendered HTML; its script and style are served from
this package's static folder, no CDN). JSON callers (the page's own script) get problem+json errors; browsers
get an HTML error page with the same status (404 unknown link, 410 used or expired, 409 refusals)."""
from __future__ import annotations

import json
import uuid
from typing import Any

import marshmallow as ma
from flask import Blueprint, Response, render_template, request, url_for

from fieldservice.auth.decorators import public
from fieldservice.db import unit_of_work
from fieldservice.errors import DomainError, ValidationFailed, problem
from fieldservice.photos.adapters import current_media
from fieldservice.records import labels
from fieldservice.records.documents_api import pdf_response
from fieldservice.signing import service
from fieldservice.signing.schemas import PageSignSchema
from media.storage import iter_stream

bp = Blueprint("signing_page", __name__, url_prefix="/sign", static_folder="static",
               static_url_path="/static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
ERROR_TEXT = {"signing_link_not_found": "link_unknown", "signing_link_used": "link_used",
              "signing_link_expired": "link_expired"}  # conditions_not_met: service.refusal_label


@bp.after_request
def _headers(response: Response) -> Response:
    """The token is in the URL: never cache the page, never send it on as a Referer, never frame it."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = CSP
    return response


def _wants_json() -> bool:
    """Browsers navigating name text/html in Accept: they get HTML; scripts, curl and JSON bodies get JSON."""
    explicit_html = any(mime == "text/html" for mime, _ in request.accept_mimetypes)
    return request.is_json or not explicit_html or request.accept_mimetypes.best == "application/json"


def _language(fallback: str | None = None) -> str:
    """?lang= if valid, else the link's language when the error knows it, else zh."""
    for lang in (request.args.get("lang", ""), fallback or ""):
        if lang in labels.LANGUAGES:
            return lang
    return labels.DEFAULT_LANGUAGE


def _pdf_url(err: DomainError) -> str | None:
    """A used link whose PDF window is still open (the service put `pdf_until` on the error): its PDF's URL."""
    token = (request.view_args or {}).get("token")
    if isinstance(err, service.SigningLinkUsed) and "pdf_until" in err.extra and isinstance(token, str):
        return url_for(".pdf", token=token)
    return None


@bp.errorhandler(DomainError)
def _error_page(err: DomainError) -> Any:
    """HTML for a browser, problem+json for the page's script (same status either way). A used link
    (410 signing_link_used) still offers the signed PDF while its PDF window is open (`pdf_url`)."""
    pdf_url = _pdf_url(err)
    headers = getattr(err, "headers", None) or {}  # e.g. Retry-After of a 429
    if _wants_json():
        response = problem(err.status, err.title, err.detail, code=err.code, **err.extra,
                           **({"pdf_url": pdf_url} if pdf_url else {}))
        response.headers.update(headers)
        return response
    lang = _language(getattr(err, "language", None))
    key = ERROR_TEXT.get(err.code)
    if err.code == "conditions_not_met":
        key = service.refusal_label([c["code"] for c in err.extra.get("unmet_conditions", [])])
    message = labels.text(key, lang) if key else str(err)
    return render_template("sign/error.html", lang=lang, t=lambda k: labels.text(k, lang), message=message,
                           detail=str(err), code=err.code, pdf_url=pdf_url), err.status, headers


@bp.get("/<token>")
@public
def page(token: str) -> Any:
    """The signing page: the record in the customer's language, its hash, photos and the signature canvas."""
    lang = request.args.get("lang")
    with unit_of_work():
        view = service.page_view(token, lang)
    other = "en" if view.language == "zh" else "zh"
    return render_template("sign/page.html", view=view, lang=view.language, token=token,
                           t=lambda k: labels.text(k, view.language),
                           kind=labels.kind_label(view.record.kind.value, view.language),
                           switch_url=url_for(".page", token=token, lang=other),
                           post_url=url_for(".sign", token=token, lang=view.language),
                           done_url=url_for(".done", token=token, lang=view.language))


def _form_body() -> dict[str, Any]:
    """The same fields as the JSON body, from an HTML form (strokes as JSON text)."""
    form = request.form
    body: dict[str, Any] = {k: form[k] for k in ("content_sha256", "signer_name", "signature_png", "device_time",
                                                 "lang") if form.get(k)}
    if form.get("strokes"):
        try:
            body["strokes"] = json.loads(form["strokes"])
        except ValueError:
            raise ValidationFailed("strokes: not JSON", errors={"form": {"strokes": ["not JSON"]}}) from None
    return body


@bp.post("/<token>")
@public
def sign(token: str) -> Any:
    """Sign through the link (JSON from the page's script, or the form). Same rules as every sign-off:
    records.service.sign_record with the hash shown on the page."""
    service.resolve_open(token)          # an unknown, used or expired link is 404/410 whatever the body
    raw = request.get_json(silent=True) if request.is_json else _form_body()
    if not isinstance(raw, dict):
        raise ValidationFailed("send a JSON object", errors={"json": ["expected an object"]})
    try:
        data = PageSignSchema().load(raw)
    except ma.ValidationError as err:
        raise ValidationFailed("the signature form is incomplete or malformed",
                               errors={"json": err.messages}) from err
    if not data.get("signature_png") and not data.get("strokes"):
        raise ValidationFailed("draw a signature first", errors={"json": {"signature_png": ["required"]}})
    with unit_of_work():
        link, signoff = service.sign_via_link(token, data, client=request.remote_addr)
        result = {"signoff_id": str(signoff.id), "record_id": str(link.record_id),
                  "content_sha256": signoff.content_sha256, "signed_at": signoff.signed_at.isoformat(),
                  "pdf_url": url_for(".pdf", token=token),
                  "done_url": url_for(".done", token=token, lang=data.get("lang") or link.language)}
    if _wants_json():
        return result, 201
    lang = data.get("lang") or link.language
    return render_template("sign/done.html", lang=lang, t=lambda k: labels.text(k, lang),
                           pdf_url=result["pdf_url"], content_sha256=signoff.content_sha256), 201


@bp.get("/<token>/done")
@public
def done(token: str) -> Any:
    """After signing: thanks, and the PDF link (while the link's PDF window is open)."""
    found = service.resolve_for_pdf(token)
    lang = request.args.get("lang") or found.link.language
    lang = lang if lang in labels.LANGUAGES else labels.DEFAULT_LANGUAGE
    return render_template("sign/done.html", lang=lang, t=lambda k: labels.text(k, lang),
                           pdf_url=url_for(".pdf", token=token), content_sha256=found.record.content_sha256)


@bp.get("/<token>/pdf")
@public
def pdf(token: str) -> Any:
    """The signed record's PDF, for SIGNING_LINK_PDF_HOURS after signing."""
    with unit_of_work():
        document = service.pdf_via_link(token, media=current_media())
    return pdf_response(document)


@bp.get("/<token>/photos/<uuid:photo_id>")
@public
def photo(token: str, photo_id: uuid.UUID) -> Any:
    """A thumbnail of one of the record's photos (no metadata), while the link is usable; logged as an
    archive read (R-ARC-3)."""
    media = current_media()
    with unit_of_work():   # a blob that cannot be opened (404 blob_not_found) rolls back the read log row
        content = service.photo_via_link(token, photo_id, media=media)
        stream = media.storage.open(content.key)
    # streamed through the app even with S3 (no redirect): the page's CSP allows images from itself only,
    # and a 256-px thumbnail is small
    return Response(iter_stream(stream), mimetype=content.content_type,
                    headers={"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})
