"""Imports every domain's models, so metadata (and Alembic) sees all tables."""


def import_all_models() -> None:
    from core.api import models as api_models  # noqa: F401
    from core.audit import models as audit_models  # noqa: F401
    from core.casefile import models as casefile_models  # noqa: F401
    from core.cases import models as case_models  # noqa: F401
    from core.committees import models as committee_models  # noqa: F401
    from core.crypto import models as crypto_models  # noqa: F401
    from core.identity import models as identity_models  # noqa: F401
    from core.reports import models as report_models  # noqa: F401
    from core.tenancy import models as tenancy_models  # noqa: F401
