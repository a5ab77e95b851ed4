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
    ~/.pgpass, or the server asks for none) and a unix-socket host (a directory) passed as
    ``?host=`` in the URL dlt hands to psycopg2, where libpq reads it."""

    password: Optional[TSecretStrValue] = None  # noqa: UP045 (dlt reads this annotation)

    def to_url(self):
        url = super().to_url()
        if self.host and self.host.startswith("/"):
            url = url._replace(host=None).update_query_dict({"host": self.host})
        return url
