"""The Airflow DAG extract_mailchimp: built from its entry in revops.orchestration.dags.SOURCES
(what it pulls and writes, schedule, window, backfills, pool, timeouts and alerts are described
in the DAG's doc_md there)."""

from revops.orchestration.dags import extract_dag

dag = extract_dag("mailchimp")
