# revops on Airflow: the official apache/airflow image at the version constraints.txt pins,
# with the revops package installed under the same pins, and the DAGs, the dbt project and the
# gate thresholds under /opt/airflow (the working directory, where revops finds its project).
# One image for every service of docker-compose.yml: the Airflow components, the vendor
# simulator (`revops simulate serve`) and the plain CLI (`docker compose run --rm revops ...`).
#
# The slim variant: it carries Airflow without the ~80 providers of the full image, so what
# runs is the set constraints.txt pins and the test suite exercises (the full image's extra
# providers would keep their own dependencies, some re-pinned underneath them by our set).
# tests/test_compose.py holds AIRFLOW_VERSION equal to the apache-airflow pin.
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:slim-${AIRFLOW_VERSION}-python${PYTHON_VERSION}
ARG AIRFLOW_VERSION

# revops state (dlt working files, the simulator's CA and certificate), outputs (reports) and
# the mount points of docker-compose.yml's named volumes, which take this ownership: group 0
# may write, as everywhere in the Airflow image, so any AIRFLOW_UID works.
USER root
RUN mkdir -p /opt/revops/simulator/tls /opt/revops/out /opt/airflow/config /opt/airflow/logs \
    && chown -R airflow:0 /opt/revops /opt/airflow/config /opt/airflow/logs \
    && chmod -R g+rwX /opt/revops /opt/airflow/config /opt/airflow/logs
USER airflow
ENV REVOPS_HOME=/opt/revops REVOPS_OUT_DIR=/opt/revops/out

# the package first (its layer is rebuilt only when the code or the pins change);
# apache-airflow is named so pip can never up- or downgrade the image's Airflow
COPY --chown=airflow:0 pyproject.toml constraints.txt README.md /opt/revops/build/
COPY --chown=airflow:0 src /opt/revops/build/src
RUN pip install --no-cache-dir -c /opt/revops/build/constraints.txt \
        "apache-airflow==${AIRFLOW_VERSION}" /opt/revops/build \
    && rm -rf /opt/revops/build

WORKDIR /opt/airflow
COPY --chown=airflow:0 dags ./dags
# revops' airflow_local_settings.py: the scheduler and Celery workers preload what tasks import
COPY --chown=airflow:0 airflow_config ./airflow_config
ENV PYTHONPATH=/opt/airflow/airflow_config
COPY --chown=airflow:0 dbt_project ./dbt_project
COPY --chown=airflow:0 expectations ./expectations
