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


# -- typed settings ----------------------------------------------------------------------------
# Every REVOPS_* value read from the environment goes through one of these, so a bad value is
# refused with the variable's name, what it holds and what it accepts.


class ConfigError(ValueError):
    """A setting holds a value revops cannot use; the message names the variable and the fix."""


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def setting_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """The integer in ``name`` (``default`` when unset or blank), within [minimum, maximum]."""
    return _number(name, default, int, "a whole number", minimum, maximum)


def setting_float(
    name: str, default: float, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """The number in ``name`` (``default`` when unset or blank), within [minimum, maximum]."""
    return _number(name, default, float, "a number", minimum, maximum)


def _number(name, default, kind, what, minimum, maximum):
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not {what}; set it to {what} (default {default}) or unset it"
        ) from None
    if kind is float and value != value:  # NaN
        raise ConfigError(f"{name}={raw!r} is not {what}; set it to {what} or unset it")
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        bounds = (
            f"between {minimum} and {maximum}"
            if minimum is not None and maximum is not None
            else f"at least {minimum}"
            if minimum is not None
            else f"at most {maximum}"
        )
        raise ConfigError(f"{name}={raw!r} is out of range: it must be {bounds}")
    return value


def setting_bool(name: str, default: bool) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` in ``name`` (``default`` when unset)."""
    raw = _raw(name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value; use true or false")


def setting_choices(
    name: str, allowed: tuple[str, ...], default: tuple[str, ...] | None = None
) -> tuple[str, ...]:
    """The comma-separated choices in ``name``, each one of ``allowed`` (in ``allowed``'s
    order, without repeats); ``default`` (all of ``allowed``) when unset. An unknown or empty
    list is refused, naming what is allowed."""
    raw = _raw(name)
    if raw is None:
        return tuple(default if default is not None else allowed)
    given = [part.strip() for part in raw.split(",")]
    unknown = [part for part in given if part not in allowed]
    if unknown or not any(given):
        raise ConfigError(
            f"{name}={raw!r}: {', '.join(repr(u) for u in unknown) or 'no value'} is not one of "
            f"{', '.join(allowed)}; give a comma-separated list of those"
        )
    return tuple(choice for choice in allowed if choice in given)


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
