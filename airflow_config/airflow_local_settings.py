"""Airflow's local settings for revops: imported by every Airflow process at start.

It preloads the modules revops' tasks import in the processes that fork them (the scheduler
and Celery workers), so each task starts with them loaded: see ``revops.orchestration.preload``.
``revops airflow start`` and the Docker image put this directory on ``PYTHONPATH``, which comes
before ``$AIRFLOW_HOME/config`` on ``sys.path``: a deployment with its own
``airflow_local_settings.py`` (cluster policies) adds the lines below to it instead. On your own
Airflow, copy the file to ``$AIRFLOW_HOME/config``.
"""

__all__: list[str] = []  # Airflow copies the names listed here into airflow.settings: none

try:
    from revops.orchestration.preload import preload
except ImportError:  # a Python without revops (another tool on this PYTHONPATH): nothing to do
    pass
else:
    preload()
