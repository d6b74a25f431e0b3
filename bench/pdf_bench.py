"""PDF benchmark (issue 6 item 7). Prints figures; not a test.

    .venv/bin/python -m bench.pdf_bench [--photos 4] [--repeat 5]

Builds, in a temporary SQLite database and media folder, a repair record with N 12-megapixel phone photos
(synthetic JPEGs of ~3 MB, processed into their 1280-px copies as on upload), signs it, adds a signed
acceptance and a survey, then times through the real HTTP handlers (Flask test client, audit included):
- `GET /api/v1/records/<id>/pdf` (the record with N photos and the signature),
- `GET /api/v1/work-orders/<id>/report.pdf` (three records),
median of --repeat runs each, with the PDF sizes and whether regenerating gave identical bytes.
"""
from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

from bench.media_bench import synthetic_photo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from bench.common import migrated_app
    from tests.factories import Factory
    from tests.records.conftest import ACCEPTED, create_record, finish_visit, repair_content, sign

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        app = migrated_app(f"sqlite:///{work / 'bench.sqlite3'}")
        app.config["MEDIA_ROOT"] = str(work / "media")
        from fieldservice.photos.adapters import init_media

        init_media(app)
        make = Factory(app)
        client = app.test_client()
        customer = make.customer("上海华东精密仪器有限公司")
        line = make.product_line()
        product = make.product(line.id, name="高速冷冻离心机")
        tech = make.technician(certified_for=[line.id])
        order = make.work_order(kind="repair", product_id=product.id, customer_id=customer.id)
        visit = make.visit(order.id, technician_id=tech.id)
        auth = {"Authorization": f"Bearer {make.token(tech.user_id)}"}
        job = type("Job", (), {"visit": visit, "auth": auth})()

        photo_ids = []
        for n in range(args.photos):
            path = work / f"photo{n}.jpg"
            synthetic_photo(path, noise=20 + n)
            response = client.post("/api/v1/photos", headers=auth, content_type="multipart/form-data", data={
                "visit_id": str(visit.id), "kind": "fault", "file": (io.BytesIO(path.read_bytes()), path.name,
                                                                     "image/jpeg")})
            assert response.status_code == 201, response.get_data(as_text=True)
            photo_ids.append(response.get_json()["id"])
        record = create_record(client, job, "repair_record",
                               repair_content(reported_fault="离心机不启动，显示 E-12", photo_ids=photo_ids))
        finish_visit(client, job)
        assert sign(client, job, record["id"]).status_code == 201
        acceptance = create_record(client, job, "work_order_acceptance", ACCEPTED)
        assert sign(client, job, acceptance["id"]).status_code == 201
        create_record(client, job, "satisfaction_survey",
                      {"ratings": {"response_time": 5, "attitude": 5, "quality": 4, "overall": 5}})

        for label, url in ((f"record PDF ({args.photos} photos + signature)", f"/api/v1/records/{record['id']}/pdf"),
                           ("service report PDF (3 records)", f"/api/v1/work-orders/{order.id}/report.pdf")):
            times, bodies = [], []
            for _ in range(args.repeat + 1):              # the first run registers the font: reported apart
                start = time.perf_counter()
                response = client.get(url, headers=auth)
                times.append(time.perf_counter() - start)
                assert response.status_code == 200, response.get_data(as_text=True)
                bodies.append(response.data)
            same = all(b == bodies[0] for b in bodies)
            print(f"{label}: first {times[0] * 1000:.0f} ms, median {statistics.median(times[1:]) * 1000:.0f} ms "
                  f"over {args.repeat}, {len(bodies[0]) / 1024:.0f} KiB, identical bytes on regeneration: {same}")


if __name__ == "__main__":
    main()
