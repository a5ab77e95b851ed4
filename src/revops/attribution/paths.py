"""Aggregated channel paths from outside the warehouse: read, write, attribute.

The common aggregated form, as other attribution tools (ChannelAttribution, ...) read it::

    path,total_conversions,total_conversion_value,total_null
    paid_search > email > direct,12,3400.0,230

One row per distinct path: the channels in time order joined by ``" > "``, the conversions
and conversion value of the journeys that took it, and the journeys that took it without
converting. A blank path is a journey with no touches, credited to ``(none)``.

:func:`attribute_paths` credits the channels under any of the models that need no timing or
milestones. For these paths the rule-based models work on the touch sequence as given, repeats
included: ``linear`` gives ``a > a > b`` two thirds to ``a``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from os import PathLike
from typing import IO, Any

import numpy as np
import pandas as pd

from revops.attribution import markov, shapley
from revops.attribution.pathset import NONE_CHANNEL, PathSet
from revops.vocabulary import MODEL_WEIGHTS, MODELS

PATH_COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")
NUMERIC_COLUMNS = PATH_COLUMNS[1:]
SEPARATOR = " > "

TIMED_MODELS = ("time_decay", "w_shaped", "full_path")
"""Models that need touch times or milestones, so not aggregated paths."""

PATH_MODELS = tuple(model for model in MODELS if model not in TIMED_MODELS)
"""Every model that works on aggregated paths (:data:`revops.vocabulary.MODELS` less the timed
ones); ``all`` means these."""

DIRECT_CHANNEL = "direct"
"""The channel ``last_non_direct`` passes over."""

Source = str | PathLike[str] | IO[str]


class PathFileError(ValueError):
    """A paths file or frame is malformed; the message names the line and column."""

    def __init__(self, message: str, line: int | None = None, column: str | None = None) -> None:
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.line = line
        self.column = column


# -- reading and writing ------------------------------------------------------------------------
def _sniff_sep(header: str) -> str:
    # ChannelAttribution's own sample file uses ';'; accept it when the header says so.
    return ";" if ";" in header and "," not in header else ","


def _read_csv(source: str | PathLike[str] | io.StringIO, dtype: Any, sep: str) -> pd.DataFrame:
    if isinstance(source, io.StringIO):
        source.seek(0)
    try:
        return pd.read_csv(
            source,
            sep=sep,
            dtype=dtype,
            encoding="utf-8-sig",
            keep_default_na=False,  # a channel may be called "null" or "NA"
            skip_blank_lines=False,  # keep row numbers equal to line numbers
        )
    except pd.errors.ParserError as exc:
        raise PathFileError(f"not a valid CSV: {str(exc).strip()}") from exc


def read_paths_frame(source: Source) -> pd.DataFrame:
    """Read a paths CSV into a validated frame whose index is each row's line number.

    ``source`` is a file name or an open text file. Raises :class:`PathFileError` naming the
    line and column of the first problem: a missing column, an empty or non-numeric number, a
    negative count.
    """
    if hasattr(source, "read"):
        body: str | PathLike[str] | io.StringIO = io.StringIO(source.read())  # type: ignore[union-attr]
        header = body.readline()
    else:
        body = source  # type: ignore[assignment]
        with open(source, encoding="utf-8-sig", newline="") as handle:  # type: ignore[arg-type]
            header = handle.readline()
    header = header.lstrip("\ufeff").rstrip("\r\n")
    if not header.strip():
        raise PathFileError("empty file: expected the header " + ",".join(PATH_COLUMNS), line=1)
    sep = _sniff_sep(header)
    names = [h.strip() for h in next(csv.reader([header], delimiter=sep))]
    missing = [c for c in PATH_COLUMNS if c not in names]
    if missing:
        raise PathFileError(
            f"missing column(s) {', '.join(missing)}; expected the header "
            + ",".join(PATH_COLUMNS),
            line=1,
        )
    numeric = {"path": str, **{c: np.float64 for c in NUMERIC_COLUMNS}}
    try:
        frame = _read_csv(body, numeric, sep)
    except PathFileError:
        raise
    except ValueError:
        # Something is not a number: read everything as text to say where.
        frame = _read_csv(body, str, sep)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
    return validate_paths_frame(frame)


def validate_paths_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a frame of paths and return it with numeric columns as floats.

    Rows that are entirely empty are dropped. The index is used as the line number in error
    messages (``read_paths_frame`` sets it to the file's line numbers).
    """
    missing = [c for c in PATH_COLUMNS if c not in frame.columns]
    if missing:
        raise PathFileError(f"missing column(s) {', '.join(missing)}", line=1)
    out = frame.loc[:, list(PATH_COLUMNS)].copy()
    out["path"] = out["path"].fillna("").astype(str)
    if not all(pd.api.types.is_numeric_dtype(out[c]) for c in NUMERIC_COLUMNS):
        as_text = out[list(NUMERIC_COLUMNS)].fillna("").astype(str).apply(lambda s: s.str.strip())
        blank_row = (out["path"].str.strip() == "") & (as_text == "").all(axis=1)
        out = out[~blank_row]
        for c in NUMERIC_COLUMNS:
            text = as_text.loc[out.index, c]
            numbers = pd.to_numeric(text, errors="coerce")
            bad = numbers.isna()
            if bad.any():
                line = out.index[np.argmax(bad.to_numpy())]
                shown = text.loc[line]
                what = "empty value" if shown == "" else f"not a number: {shown!r}"
                raise PathFileError(what, line=int(line), column=c)
            out[c] = numbers.astype(np.float64)
    for c in NUMERIC_COLUMNS:
        values = out[c].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            raise PathFileError(
                "not a finite number", line=int(out.index[np.argmax(bad)]), column=c
            )
        negative = values < 0
        if negative.any():
            i = int(np.argmax(negative))
            what = "value" if c == "total_conversion_value" else "count"
            raise PathFileError(f"negative {what} {values[i]:g}", line=int(out.index[i]), column=c)
        # every model's totals add up to the column's sum, which must be a float too
        with np.errstate(over="ignore"):
            over = ~np.isfinite(np.cumsum(values))
        if over.any():
            raise PathFileError(
                f"the column's sum up to here exceeds the largest float (1.8e308); express "
                f"{c} in a larger unit",
                line=int(out.index[int(np.argmax(over))]),
                column=c,
            )
    return out


def encode_paths(frame: pd.DataFrame, aggregate: bool = False) -> PathSet:
    """Turn a validated paths frame into a :class:`PathSet` (channels sorted by name).

    With ``aggregate``, rows with the same path text become one path with the rows' weights
    added up (the totals of every model are the same; a file with one row per journey
    shrinks to its distinct paths). Without it, path ``p`` is the frame's row ``p``.
    """
    texts = frame["path"].to_numpy(dtype=object)
    lines = frame.index.to_numpy()
    weights = [frame[c].to_numpy(dtype=np.float64) for c in NUMERIC_COLUMNS]
    if aggregate and len(texts):
        keys, uniques = pd.factorize(texts)
        if len(uniques) < len(texts):
            first = np.zeros(len(uniques), dtype=np.int64)
            first[keys[::-1]] = np.arange(len(keys))[::-1]  # a path's first row, for errors
            lines = lines[first]
            texts = np.asarray(uniques, dtype=object)
            weights = [np.bincount(keys, weights=w, minlength=len(texts)) for w in weights]
    n = len(texts)
    if n == 0:
        empty = np.zeros(0)
        return PathSet(
            (), np.zeros(0, dtype=np.int32), np.zeros(1, dtype=np.int64), empty, empty, empty
        )
    lengths = np.fromiter((t.count(">") + 1 for t in texts), dtype=np.int64, count=n)
    tokens = np.array(">".join(texts).split(">"), dtype=object)
    raw_codes, raw_names = pd.factorize(tokens)
    stripped = [str(name).strip() for name in raw_names]
    blank = np.array([s == "" for s in stripped], dtype=bool)
    if blank.any():
        is_blank_touch = blank[raw_codes]
        in_long_path = np.repeat(lengths > 1, lengths)
        wrong = is_blank_touch & in_long_path
        if wrong.any():
            p = int(np.repeat(np.arange(n), lengths)[np.argmax(wrong)])
            raise PathFileError(
                f"empty channel name in path {texts[p]!r}", line=int(lines[p]), column="path"
            )
        stripped = [NONE_CHANNEL if s == "" else s for s in stripped]
    channels = sorted(set(stripped))
    position = {c: i for i, c in enumerate(channels)}
    remap = np.array([position[s] for s in stripped], dtype=np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return PathSet(
        channels=tuple(channels),
        codes=remap[raw_codes],
        offsets=offsets,
        conversions=weights[0],
        values=weights[1],
        nulls=weights[2],
    )


def read_paths(source: Source) -> PathSet:
    """Read a paths CSV (file name or open text file) into a :class:`PathSet`."""
    return encode_paths(read_paths_frame(source))


def to_paths(
    data: PathSet | pd.DataFrame | Iterable[Sequence[Any]], aggregate: bool = False
) -> PathSet:
    """A :class:`PathSet` from a paths frame, rows ``(path, conversions, value, null)``, or
    a PathSet (returned as is). A row's path may be a string or a sequence of channels;
    ``aggregate`` merges rows with the same path (see :func:`encode_paths`)."""
    if isinstance(data, PathSet):
        return data
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
        frame.index = pd.RangeIndex(2, len(frame) + 2, name="line")
    else:
        rows = [list(r) for r in data]
        for r in rows:
            if not isinstance(r[0], str):
                r[0] = SEPARATOR.join(r[0])
        frame = pd.DataFrame(
            rows, columns=list(PATH_COLUMNS)[: len(rows[0])] if rows else list(PATH_COLUMNS)
        )
        for c in PATH_COLUMNS:
            if c not in frame.columns:
                frame[c] = 0.0
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="row")
    return encode_paths(validate_paths_frame(frame), aggregate=aggregate)


def write_paths(data: PathSet | pd.DataFrame, target: Source) -> None:
    """Write paths in the aggregated CSV form (channels joined by ``" > "``)."""
    if isinstance(data, PathSet):
        names = np.array(data.channels, dtype=object)
        texts = [
            SEPARATOR.join(names[data.codes[a:b]])
            for a, b in zip(data.offsets[:-1].tolist(), data.offsets[1:].tolist(), strict=True)
        ]
        frame = pd.DataFrame(
            {
                "path": texts,
                "total_conversions": data.conversions,
                "total_conversion_value": data.values,
                "total_null": data.nulls,
            }
        )
    else:
        frame = data.loc[:, list(PATH_COLUMNS)]
    frame.to_csv(target, index=False)


# -- the models on many paths ---------------------------------------------------------------
def touch_credits(paths: PathSet, model: str) -> np.ndarray:
    """Credit of every touch of every path under ``model``; each path's credits sum to 1.

    For ``shapley`` the touches are those of the paths after folding rare channels into
    ``other`` (the same touches, some recoded).
    """
    starts, ends = paths.offsets[:-1], paths.offsets[1:] - 1
    total = len(paths.codes)
    credit = np.zeros(total)
    if model == "first_touch":
        credit[starts] = 1.0
    elif model == "last_touch":
        credit[ends] = 1.0
    elif model == "last_non_direct":
        chosen = ends
        if DIRECT_CHANNEL in paths.channels:
            direct = paths.channels.index(DIRECT_CHANNEL)
            idx = np.where(paths.codes != direct, np.arange(total), -1)
            last_nd = np.maximum.reduceat(idx, starts)
            chosen = np.where(last_nd >= 0, last_nd, ends)
        credit[chosen] = 1.0
    elif model == "linear":
        credit = np.repeat(1.0 / paths.lengths, paths.lengths)
    elif model == "position_based":
        first, last = MODEL_WEIGHTS[model]["first"], MODEL_WEIGHTS[model]["last"]
        # the middle touches' share in decimal, as the SQL's numeric gives it (0.2, not 0.1999...)
        between = float(1 - Decimal(repr(first)) - Decimal(repr(last)))
        n = np.repeat(paths.lengths, paths.lengths)
        pos = np.arange(total) - np.repeat(starts, paths.lengths)
        middle = between / np.maximum(n - 2, 1)
        by_position = np.where(pos == 0, first, np.where(pos == n - 1, last, middle))
        credit = np.where(n == 1, 1.0, np.where(n == 2, 0.5, by_position))
    elif model == "markov":
        credit = markov.touch_credits(paths)
    elif model == "shapley":
        credit = shapley.touch_credits(paths)
    elif model in TIMED_MODELS:
        raise ValueError(
            f"model {model!r} needs touch times or milestones, which aggregated "
            f"paths do not have; for paths use: {', '.join(PATH_MODELS)}"
        )
    else:
        raise ValueError(f"unknown model {model!r}; for paths use: {', '.join(PATH_MODELS)}")
    return credit


def parse_models(spec: str | Sequence[str]) -> list[str]:
    """Model names from ``"all"``, ``"a,b"`` or a list; unknown names raise ``ValueError``."""
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for raw in names:
        name = raw.strip()
        if not name:
            continue
        expanded = list(PATH_MODELS) if name == "all" else [name]
        for m in expanded:
            if m in TIMED_MODELS:
                raise ValueError(
                    f"model {m!r} needs touch times or milestones, which aggregated paths do "
                    f"not have; for paths use: {', '.join(PATH_MODELS)} or all"
                )
            if m not in PATH_MODELS:
                raise ValueError(
                    f"unknown model {m!r}; choose from: {', '.join(PATH_MODELS)} or all"
                )
            if m not in out:
                out.append(m)
    if not out:
        raise ValueError("no model given")
    return out


def attribute_paths(
    data: PathSet | pd.DataFrame | Iterable[Sequence[Any]],
    models: str | Sequence[str] = "all",
) -> pd.DataFrame:
    """Attributed conversions and value per channel under each model.

    ``data`` is a paths frame (columns ``path, total_conversions, total_conversion_value,
    total_null``), rows in that order, or a :class:`PathSet`. Returns one row per channel
    (sorted by name): ``channel_name``, then ``<model>_conversions`` and ``<model>_value`` for
    each model, and ``markov_removal_effect`` after the Markov columns.
    """
    paths = to_paths(data, aggregate=True)
    names = parse_models(models)
    markov.check_weights(paths, "paths")
    markov.check_totals(paths, "paths")
    columns: dict[str, dict[str, np.ndarray]] = {}
    channel_sets: list[Sequence[str]] = [paths.channels]
    touch_weight_conv = np.repeat(paths.conversions, paths.lengths)
    touch_weight_value = np.repeat(paths.values, paths.lengths)
    k = paths.n_channels
    for model in names:
        if model == "markov":
            result = markov.removal_effects(paths)
            conv, value = markov.channel_totals(paths, result)
            columns[model] = dict(
                zip(
                    paths.channels,
                    zip(conv, value, result.removal_effects, strict=True),
                    strict=True,
                )
            )
        elif model == "shapley":
            chans, conv, value = shapley.channel_totals(paths)
            channel_sets.append(chans)
            columns[model] = dict(zip(chans, zip(conv, value, strict=True), strict=True))
        else:
            credit = touch_credits(paths, model)
            conv = np.bincount(paths.codes, weights=credit * touch_weight_conv, minlength=k)
            value = np.bincount(paths.codes, weights=credit * touch_weight_value, minlength=k)
            columns[model] = dict(zip(paths.channels, zip(conv, value, strict=True), strict=True))
    all_channels = sorted({c for s in channel_sets for c in s})
    out: dict[str, list[Any]] = {"channel_name": all_channels}
    for model in names:
        per = columns[model]
        out[f"{model}_conversions"] = [float(per[c][0]) if c in per else 0.0 for c in all_channels]
        out[f"{model}_value"] = [float(per[c][1]) if c in per else 0.0 for c in all_channels]
        if model == "markov":
            out["markov_removal_effect"] = [
                float(per[c][2]) if c in per else 0.0 for c in all_channels
            ]
    return pd.DataFrame(out)
