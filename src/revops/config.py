"""Paths and settings shared by every stage: where state, outputs and the project files live."""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    """Local state (embedded warehouse, Airflow metadata, dlt working files): ``REVOPS_HOME``,
    default ``.revops/``."""
    from revops.settings import current

    return Path(current().home or Path.cwd() / ".revops").resolve()


def out_dir() -> Path:
    """What the product hands to people (reports, sent mail, Data Docs): ``REVOPS_OUT_DIR``,
    default ``out/``."""
    from revops.settings import current

    return Path(current().out_dir or Path.cwd() / "out").resolve()


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


# -- settings --------------------------------------------------------------------------------
# Every REVOPS_* setting is declared, typed and checked in revops.settings; its error,
# ConfigError (a value revops cannot use, named), stays importable from here.


def __getattr__(name: str):  # noqa: ANN202
    if name == "ConfigError":
        from revops.settings import ConfigError

        return ConfigError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- private files -----------------------------------------------------------------------------
# Reports, sent mail, credentials and Data Docs hold what only their owner may read: folders
# revops creates for them are 0700 and their files 0600, whatever the process umask.


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders; tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_atomically(path: Path, data: bytes, mode: int = 0o666) -> Path:
    """Write ``data`` to a temporary file beside ``path`` (created with ``mode``, less the
    umask) and rename it over ``path``: readers see the old file or the whole new one, and a
    failure leaves ``path`` as it was and no partial file."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


def write_private(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`write_atomically`), mode 0600, in a 0700
    folder."""
    private_dir(path.parent)
    return write_atomically(path, data, 0o600)
