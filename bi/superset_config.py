"""Superset's settings for revops (SUPERSET_CONFIG_PATH points here; `make bi` sets it).

Everything Superset keeps of its own lives under SUPERSET_HOME (default `.revops/bi`): its
SQLite metadata database and the secret key `bi/setup.py` generates on first run. The key is
never in the repository; delete the folder to start over.
"""

import os
from pathlib import Path

HOME = Path(os.environ.get("SUPERSET_HOME", ".revops/bi")).resolve()

SECRET_KEY = (HOME / "secret_key").read_text().strip()
SQLALCHEMY_DATABASE_URI = f"sqlite:///{HOME / 'superset.db'}"
# local, single user: no CSRF token dance for the API the setup and the tests call
WTF_CSRF_ENABLED = False
TALISMAN_ENABLED = False
FEATURE_FLAGS = {"DASHBOARD_RBAC": False}
# no example data, no outside calls
SUPERSET_WEBSERVER_TIMEOUT = 120
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
RATELIMIT_STORAGE_URI = "memory://"
