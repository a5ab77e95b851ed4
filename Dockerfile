# revops in a container: the package, the DAGs and the dbt project, installed with the pins.
FROM python:3.11-slim
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN pip install --no-cache-dir -c constraints.txt .
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY expectations ./expectations
COPY scripts ./scripts
ENV REVOPS_HOME=/app/.revops REVOPS_OUT_DIR=/app/out
ENTRYPOINT ["revops"]
CMD ["demo"]
