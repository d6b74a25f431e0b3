"""Anchors of the archive's chain heads in an S3 bucket with Object Lock (moto over real HTTP): written in
COMPLIANCE mode, not deletable before their retention ends, and read back by `flask verify-archive`."""
from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from flask import Flask

from fieldservice.extensions import db


def test_anchors_go_to_an_object_locked_bucket_and_are_verified(app: Flask, s3_config: dict[str, Any],
                                                                s3_client: Any, bucket_name: str) -> None:
    s3_client.create_bucket(Bucket=bucket_name, ObjectLockEnabledForBucket=True)
    app.config.update({**s3_config, "MEDIA_BACKEND": "local", "ARCHIVE_ANCHOR_DIR": None,
                       "ARCHIVE_ANCHOR_S3_BUCKET": bucket_name, "ARCHIVE_ANCHOR_RETENTION_DAYS": 1})
    from fieldservice.auth.service import SYSTEM
    from fieldservice.customers import service as customers
    from fieldservice.db import unit_of_work
    from fieldservice.integrity.anchors import write_anchor
    from fieldservice.integrity.verify import verify_archive

    with app.app_context():
        with unit_of_work():
            customers.create_customer(SYSTEM, {"name": "锚 anchor"})
        assert write_anchor()["written"] == ["s3"]
        db.session.rollback()
        [item] = s3_client.list_objects_v2(Bucket=bucket_name, Prefix="archive-anchors/")["Contents"]
        head = s3_client.head_object(Bucket=bucket_name, Key=item["Key"])
        assert head["ObjectLockMode"] == "COMPLIANCE"
        versions = s3_client.list_object_versions(Bucket=bucket_name, Prefix=item["Key"])["Versions"]
        with pytest.raises(ClientError):   # nobody deletes an anchor before its retention ends
            s3_client.delete_object(Bucket=bucket_name, Key=item["Key"], VersionId=versions[0]["VersionId"])
        report = verify_archive()
        assert report.ok and report.counts["anchors"] == 1, report.problems
        db.session.execute(db.metadata.tables["audit_events"].delete())
        report = verify_archive()
        db.session.rollback()
        assert any(p.startswith("audit_events seq ") and "anchored in s3:" in p and
                   "were deleted" in p for p in report.problems), report.problems
