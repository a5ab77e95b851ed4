"""The quality gate between the marts and the report: Great Expectations suites over the marts
(``suites``) and the checkpoint that decides whether the report is published (``gate``).

Import ``revops.quality.gate`` directly; this package stays import-light (GX is slow to load).
"""
