"""``python -m revops.orchestration DAG_ID... --logical-date ISO``: each run with ``dag.test``."""

import sys

from revops.orchestration import main

sys.exit(main())
