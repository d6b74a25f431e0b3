"""Flask extensions, created unbound; `create_app` binds them."""
from __future__ import annotations

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from fieldservice.common.openapi import ContractApi
from fieldservice.db import Base, render_migration_item

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True, render_item=render_migration_item)
api = ContractApi()
