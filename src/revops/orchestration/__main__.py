"""``python -m revops.orchestration DAG_ID --logical-date ISO``: one run through ``dag.test``."""

import sys

from revops.orchestration import main

sys.exit(main())
