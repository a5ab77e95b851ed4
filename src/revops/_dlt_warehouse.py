"""dlt's PostgreSQL credentials as :class:`revops.warehouse.Warehouse` needs them.

Kept apart (and without postponed annotations) because dlt evaluates a configspec's annotations
in its module; imported only when an extract runs.
"""

from typing import Optional

from dlt.common.configuration import configspec
from dlt.common.typing import TSecretStrValue
from dlt.destinations.impl.postgres.configuration import PostgresCredentials


@configspec(init=False)
class WarehouseCredentials(PostgresCredentials):
    """PostgresCredentials with the password optional (libpq then uses PGPASSWORD or
    ~/.pgpass, or the server asks for none), handed to psycopg2 as a libpq conninfo string, and
    a unix-socket host (a directory) written as ``?host=`` where dlt shows a URL."""

    password: Optional[TSecretStrValue] = None  # noqa: UP045 (dlt reads this annotation)

    def to_native_representation(self) -> str:
        """A libpq conninfo string (what dlt hands psycopg2): a URL rendered by SQLAlchemy
        writes a space in a query value as ``+``, which libpq keeps as a plus sign."""
        from psycopg.conninfo import make_conninfo

        params = {
            "host": self.host,
            "port": self.port,
            "user": self.username,
            "password": self.password,
            "dbname": self.database,
            **{k: v for k, v in self.get_query().items() if v is not None},
        }
        return make_conninfo("", **{k: str(v) for k, v in params.items() if v is not None})

    def to_url(self):
        url = super().to_url()
        if self.host and self.host.startswith("/"):
            url = url._replace(host=None).update_query_dict({"host": self.host})
        return url

    def __str__(self) -> str:
        """Where the data goes, for dlt's load info and logs (no password, no query): written
        here because dlt's own rendering imports SQLAlchemy, 0.14 s of every load step."""
        where = f"{self.host}:{self.port}" if self.port else str(self.host or "")
        if self.host and self.host.startswith("/"):  # a unix-socket folder
            where = f"?host={self.host}"
            return f"{self.drivername}://{self.username or ''}@/{self.database or ''}{where}"
        return f"{self.drivername}://{self.username or ''}@{where}/{self.database or ''}"
