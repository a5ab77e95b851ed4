"""Paths and settings shared by every stage: where state, outputs and the project files live."""

from __future__ import annotations

import os
from pathlib import Path

STATE_DIR_ENV = "REVOPS_HOME"
OUT_DIR_ENV = "REVOPS_OUT_DIR"


def state_dir() -> Path:
    """Local state (embedded warehouse, Airflow metadata, dlt working files): ``.revops/``."""
    return Path(os.environ.get(STATE_DIR_ENV) or Path.cwd() / ".revops").resolve()


def out_dir() -> Path:
    """What the product hands to people (reports, sent mail, Data Docs): ``out/``."""
    return Path(os.environ.get(OUT_DIR_ENV) or Path.cwd() / "out").resolve()


def project_root() -> Path:
    """The repository root (holds ``dbt_project/`` and ``dags/``), found from this file or cwd."""
    here = Path(__file__).resolve()
    for candidate in (*here.parents, Path.cwd()):
        if (candidate / "dbt_project" / "dbt_project.yml").exists():
            return candidate
    raise FileNotFoundError(
        "cannot find dbt_project/dbt_project.yml: run revops from the repository root"
    )


def dbt_project_dir() -> Path:
    """The dbt project folder."""
    return project_root() / "dbt_project"
