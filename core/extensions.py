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
    """A session that never hands out another tenant's row from its identity map.

    Queries are scoped by `core.tenancy.scoping`; looking an object up by primary key
    (`Session.get`, `Query.get`, many-to-one lazy loads) can answer from memory without a
    query, so that lookup applies the same rule: a miss falls through to a scoped query.
    """

    def _identity_lookup(self, mapper, primary_key_identity, *args, **kwargs):
        from core.tenancy.scoping import check_visible  # here, to keep models importable

        found = super()._identity_lookup(mapper, primary_key_identity, *args, **kwargs)
        return check_visible(found) if isinstance(found, db.Model) else found


db = SQLAlchemy(model_class=Base, session_options={"class_": TenantAwareSession})
migrate = Migrate()
babel = Babel()
login_manager = LoginManager()
csrf = CSRFProtect()
