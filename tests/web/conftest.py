"""Fixtures of the office app's page tests: the commerce ones (a published price list, an out-of-warranty job,
quotes) where a page needs them."""
from tests.archive.conftest import archived  # noqa: F401,E402  (fixtures)
from tests.commerce.conftest import api, job, price_list, quote_for  # noqa: F401  (fixtures)
from tests.maintenance.conftest import equipment  # noqa: F401,E402
from tests.signing.conftest import chinese_job  # noqa: F401,E402
