"""The quality gate between the warehouse and the report.

- ``suites``: the marts' Great Expectations suites as code, and the gate's configuration
  (``expectations/gate.yml``);
- ``raw``: the raw layer's suites, built at run time from the connectors' streams and the
  warehouse's catalog (freshness, volume, keys, money, currencies);
- ``extracts``: each source's newest incremental extract run (failed or ending too early
  blocks the report);
- ``gate``: the checkpoint over both layers, its Data Docs and its result;
- ``runs``: every gate run recorded in ``revops_meta.gate_runs`` (what the report's sender
  checks before sending);
- ``alert``: the e-mail to the engineers on call when the gate blocks a report.

Import the modules directly; this package stays import-light (GX is slow to load).
"""

import logging

# Great Expectations logs at INFO each function it registers while it is imported (about 200
# lines), each expectation it builds and each asset it adds (about 2,000 lines, 0.9 MB, per gate
# run): in every check_quality task log they hid the gate's own lines and cost the task's time.
# Set here, before any module of this package imports GX. Its warnings and errors still show.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
