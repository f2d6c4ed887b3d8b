"""The Flask extensions, created unbound here and bound to an app in `create_app`."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TenantAwareSession(Session):
    """A session whose `get` never hands out another tenant's row from its identity map.

    Queries are scoped by `core.tenancy.scoping`; `get` is the one path that can answer
    from memory without a query, so it applies the same rule itself.
    """

    def get(self, entity, ident, **kwargs):
        from core.tenancy.scoping import check_visible  # here, to keep models importable

        return check_visible(super().get(entity, ident, **kwargs))


db = SQLAlchemy(model_class=Base, session_options={"class_": TenantAwareSession})
migrate = Migrate()
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
