"""Airflow's local settings for revops: imported by every Airflow process at start.

It preloads the modules revops' tasks import in the processes that fork them (the scheduler
and Celery workers), so each task starts with them loaded: see ``revops.orchestration.preload``.
``revops airflow start`` puts this directory on ``PYTHONPATH``; the Docker image copies the file
to ``$AIRFLOW_HOME/config``. On your own Airflow, copy it there, or add its two lines to the
``airflow_local_settings.py`` you have.
"""

from revops.orchestration.preload import preload

__all__: list[str] = []  # Airflow copies the names listed here into airflow.settings: none

preload()
