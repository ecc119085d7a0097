"""Your own experiment's tables: read and check a groups file and a KPI file.

``paretoalign align --groups GROUPS --kpis KPIS --out DIR`` analyses a practitioner's own
A/B test with the same statistics as the shop's experiment. The two files are CSV
(comma-separated, UTF-8, a header line first) or parquet, chosen by the suffix
(``.csv`` or ``.parquet``/``.pq``); the book's real-data page shows them on a bundled
example (:mod:`paretoalign.align.examples`).

GROUPS — wide, one row per test group:

===================  ==========================================================
``group``            the group's name (text, unique, not empty)
``kind`` (optional)  ``model``, ``baseline`` or ``control`` (colours of the figures,
                     and the ``arms`` a profile's ``[align]`` table analyses);
                     ``model`` for every group when the column is absent
every other column   one offline metric of the recommender served to that group,
                     measured on the same held-out log for every group (a number)
===================  ==========================================================

KPIS — tidy, one row per (group, day, KPI):

=========================  ====================================================
``group``                  a group of GROUPS
``day``                    integer: ``0, 1, ...`` for the experiment's days, or
                           ``-1`` for the whole experiment
``kpi``                    the KPI's name (text)
``value``                  the KPI of that group on that day (a number)
``ci_low``, ``ci_high``    optional: a 95 % interval of ``value`` (empty = none)
``n``                      optional: the units (e.g. users) behind ``value``
=========================  ====================================================

Every group of GROUPS needs rows in KPIS and every group of KPIS a row in GROUPS; every
group needs every KPI. The correlation across groups uses each (group, KPI)'s
whole-experiment value: the ``day = -1`` row when the file has them (then for every
(group, KPI)), else the mean of the daily values :math:`\\bar v = \\frac1D\\sum_d v_d`
with the 95 % interval :math:`\\bar v \\pm t_{0.975,\\,D-1}\\, s/\\sqrt D` over the
:math:`D` days (days as replicates; no interval for :math:`D = 1`). A ratio KPI's own
whole-experiment estimate (e.g. clicks over impressions summed over all days) is better
given as ``day = -1`` rows. The daily rows feed the day-level analyses (repeated-measures
correlation and the mixed model, :mod:`paretoalign.align.repeated`).

Every problem raises :class:`InputError`, one line naming the file, and where it applies
the column and the place: ``line N`` of a CSV file counts every line of the file from 1,
the header being line 1 (so the first data row is line 2); ``row N`` of a parquet file
counts its data rows from 1.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "GROUP_KINDS",
    "KPI_COLUMNS",
    "OPTIONAL_KPI_COLUMNS",
    "InputError",
    "read_experiment",
    "read_groups",
    "read_kpis",
    "read_table",
]

#: Arm kinds a groups file's ``kind`` column may hold.
GROUP_KINDS = ("model", "baseline", "control")
#: Required columns of a KPI file.
KPI_COLUMNS = ("group", "day", "kpi", "value")
#: Optional columns of a KPI file (numbers; an empty interval cell means no interval).
OPTIONAL_KPI_COLUMNS = ("ci_low", "ci_high", "n")
#: Column names a groups file may not use for a metric: :mod:`paretoalign.align.pipeline`
#: reads an arm kind from the first of them present.
RESERVED_GROUP_COLUMNS = ("arm", "arm_kind")
CSV_SUFFIXES = (".csv",)
PARQUET_SUFFIXES = (".parquet", ".pq")


class InputError(ValueError):
    """A groups or KPI file that cannot be analysed; the message names file, column, place."""


class Table:
    """One input file as text-or-value cells, with where each row sits in the file.

    Attributes
    ----------
    path : Path
    frame : DataFrame
        The file's columns (CSV cells as stripped strings, parquet cells as stored).
    where : list of str
        ``"line N"`` (CSV, header = line 1) or ``"row N"`` (parquet, from 1) per row.
    """

    def __init__(self, path: Path, frame: pd.DataFrame, where: list[str]) -> None:
        self.path = path
        self.frame = frame.reset_index(drop=True)
        self.where = where

    def fail(self, message: str, column: str | None = None, row: int | None = None) -> InputError:
        """An :class:`InputError` naming this file, then the place and column if given."""
        place = [self.where[row]] if row is not None else []
        if column is not None:
            place.append(f"column {column!r}")
        prefix = f"{self.path}, {', '.join(place)}" if place else f"{self.path}"
        return InputError(f"{prefix}: {message}")

    def require(self, columns: tuple[str, ...]) -> None:
        """Raise naming the first of ``columns`` the file lacks."""
        for column in columns:
            if column not in self.frame.columns:
                have = ", ".join(map(str, self.frame.columns))
                raise self.fail(f"missing column {column!r} (the file has: {have})")

    def numbers(self, column: str, *, allow_empty: bool = False) -> np.ndarray:
        """``column`` as float64; raise at the first empty (unless allowed) or non-number cell.

        Text cells are parsed as decimal numbers (``1.5``, ``-2``, ``3e-4``); infinite
        values and NaN count as not a number; with ``allow_empty`` an empty cell is NaN.
        """
        raw = self.frame[column]
        if raw.dtype.kind in "iuf":
            values = raw.to_numpy(dtype=np.float64)
            text = None
        else:
            text = raw.astype("string").str.strip()
            values = pd.to_numeric(text, errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        for i in np.flatnonzero(~np.isfinite(values)):
            cell = None if text is None else text.iloc[i]
            empty = cell is None or cell is pd.NA or cell == ""
            if empty and not np.isinf(values[i]):
                if allow_empty:
                    continue
                raise self.fail("the cell is empty (a number is needed)", column, int(i))
            raise self.fail(f"{self.cell(column, int(i))!r} is not a number", column, int(i))
        return values

    def cell(self, column: str, row: int) -> object:
        """The cell as the file holds it (a str for CSV; a Python scalar for parquet)."""
        value = self.frame[column].iloc[row]
        return value.item() if isinstance(value, np.generic) else value

    def names(self, column: str) -> pd.Series:
        """``column`` as stripped, non-empty text; raise at the first empty cell."""
        raw = self.frame[column]
        text = raw.astype("string").str.strip()
        bad = text.isna() | (text == "")
        if bad.any():
            raise self.fail("the cell is empty (a name is needed)", column, int(np.argmax(bad)))
        return text.astype(str)


def read_table(path: str | Path) -> Table:
    """Read a CSV or parquet file (by suffix) into a :class:`Table`; raise on an empty file.

    CSV: UTF-8 (a byte-order mark is allowed), comma-separated, the first line is the
    header; lines with no content are skipped; a line with a different number of fields
    than the header is an error naming it. Column names are stripped of spaces.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _read_csv(path)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    raise InputError(f"{path}: unknown format {path.suffix!r} (expected .csv or .parquet)")


def _read_csv(path: Path) -> Table:
    rows: list[list[str]] = []
    where: list[str] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            while header is not None and not any(cell.strip() for cell in header):
                header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: the file is empty (expected a header line)")
            header_line = reader.line_num
            columns = [cell.strip() for cell in header]
            _check_header(path, columns, f"line {header_line}")
            for record in reader:
                if not any(cell.strip() for cell in record):
                    continue
                if len(record) != len(columns):
                    raise InputError(
                        f"{path}, line {reader.line_num}: {len(record)} fields, "
                        f"the header (line {header_line}) has {len(columns)}"
                    )
                rows.append([cell.strip() for cell in record])
                where.append(f"line {reader.line_num}")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise InputError(f"{path}: no data rows after the header")
    return Table(path, pd.DataFrame(rows, columns=columns, dtype=object), where)


def _read_parquet(path: Path) -> Table:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"{path}: not a readable parquet file ({exc})") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_header(path, list(frame.columns), "the schema")
    if frame.empty:
        raise InputError(f"{path}: no data rows")
    return Table(path, frame, [f"row {i + 1}" for i in range(len(frame))])


def _check_header(path: Path, columns: list[str], place: str) -> None:
    if any(c == "" for c in columns):
        raise InputError(f"{path}, {place}: column {columns.index('') + 1} has no name")
    seen: set[str] = set()
    for c in columns:
        if c in seen:
            raise InputError(f"{path}, {place}: column {c!r} appears twice")
        seen.add(c)


def read_groups(path: str | Path) -> pd.DataFrame:
    """The groups file as the table the alignment analysis takes.

    Returns
    -------
    DataFrame, shape (G, M) or (G, M + 1)
        Index = group names (str, in file order), one float64 column per offline metric
        (every column but ``group`` and ``kind``, in file order) and ``kind`` when the
        file has it.

    Raises
    ------
    InputError
        No ``group`` column, a column named ``arm``/``arm_kind``, no metric column, an
        empty or repeated group name, a metric cell that is empty or not a number, a
        ``kind`` outside :data:`GROUP_KINDS`, or fewer than 3 groups.
    """
    table = read_table(path)
    table.require(("group",))
    for column in RESERVED_GROUP_COLUMNS:
        if column in table.frame.columns:
            raise table.fail(
                "reserved column name (it would be read as the arm kind): rename it, "
                "or use 'kind' for model/baseline/control",
                column,
            )
    names = table.names("group")
    _no_repeats(table, names.to_frame("group"), "group")
    metrics = [c for c in table.frame.columns if c not in ("group", "kind")]
    if not metrics:
        raise table.fail("no offline metric column (every column but 'group' and 'kind' is one)")
    out = pd.DataFrame({m: table.numbers(m) for m in metrics}, index=pd.Index(names, name=None))
    if "kind" in table.frame.columns:
        kinds = table.names("kind").str.lower()
        unknown = ~kinds.isin(GROUP_KINDS)
        if unknown.any():
            i = int(np.argmax(unknown))
            raise table.fail(f"{kinds.iloc[i]!r} is not one of {', '.join(GROUP_KINDS)}", "kind", i)
        out["kind"] = kinds.to_numpy()
    if len(out) < 3:
        raise table.fail(f"{len(out)} group(s); the analysis needs at least 3")
    return out


def read_kpis(path: str | Path, groups: pd.DataFrame, groups_path: str | Path) -> pd.DataFrame:
    """The KPI file as the tidy table the alignment analysis takes, checked against the groups.

    Parameters
    ----------
    path : path
        The KPI file (schema in the module docstring).
    groups : DataFrame
        :func:`read_groups`' table (its index is the set of groups).
    groups_path : path
        The groups file, named in the messages about groups missing from one file.

    Returns
    -------
    DataFrame
        ``group`` (str), ``day`` (int64), ``kpi`` (str), ``value``, ``ci_low``, ``ci_high``
        (float64, NaN = no interval), plus ``n`` when the file has it: the file's daily rows
        and one ``day = -1`` row per (group, KPI) — the file's own, or the mean of the
        daily values with a t-interval over days (module docstring; ``n`` is NaN there,
        since the units of all days are not the sum of the daily units).

    Raises
    ------
    InputError
        A missing column; an empty or non-numeric cell; a ``day`` that is not an integer
        >= -1; a group of one file missing from the other; a repeated (group, day, kpi);
        a group without some KPI; ``day = -1`` rows for some (group, KPI) but not all.
    """
    table = read_table(path)
    groups_path = Path(groups_path)
    table.require(KPI_COLUMNS)
    group = table.names("group")
    kpi = table.names("kpi")
    day_f = table.numbers("day")
    bad_day = (day_f != np.round(day_f)) | (day_f < -1)
    if bad_day.any():
        i = int(np.argmax(bad_day))
        raise table.fail(
            f"{table.cell('day', i)!r} is not a day (an integer >= 0, or -1 for the "
            "whole experiment)",
            "day",
            i,
        )
    value = table.numbers("value")
    frame = pd.DataFrame(
        {"group": group.to_numpy(), "day": day_f.astype(np.int64), "kpi": kpi.to_numpy()}
    )
    frame["value"] = value
    for column in OPTIONAL_KPI_COLUMNS:
        if column in table.frame.columns:
            frame[column] = table.numbers(column, allow_empty=column != "n")

    _no_repeats(table, frame[["group", "day", "kpi"]], None)
    known = set(groups.index)
    unknown = ~frame["group"].isin(known)
    if unknown.any():
        i = int(np.argmax(unknown))
        raise table.fail(f"group {frame['group'].iloc[i]!r} is not in {groups_path}", "group", i)
    present = set(frame["group"])
    for g in groups.index:
        if g not in present:
            raise InputError(
                f"{groups_path}, {_group_place(groups_path, g)}, column 'group': "
                f"group {g!r} has no rows in {table.path}"
            )
    _every_group_every_kpi(table, frame)
    return _with_whole_experiment(table, frame)


def read_experiment(
    groups_path: str | Path, kpis_path: str | Path
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(read_groups(groups_path), read_kpis(kpis_path, ...))``, both checked."""
    groups = read_groups(groups_path)
    return groups, read_kpis(kpis_path, groups, groups_path)


def _group_place(groups_path: Path, group: str) -> str:
    """Where ``group`` sits in the groups file (re-read; only on the error path)."""
    table = read_table(groups_path)
    names = table.names("group")
    return table.where[int(np.flatnonzero(names.to_numpy() == group)[0])]


def _no_repeats(table: Table, keys: pd.DataFrame, column: str | None) -> None:
    """Raise at the first row whose ``keys`` repeat an earlier row's, naming both places."""
    repeated = keys.duplicated(keep="first").to_numpy()
    if not repeated.any():
        return
    second = int(np.argmax(repeated))
    row = [v.item() if isinstance(v, np.generic) else v for v in keys.iloc[second].tolist()]
    first = int(np.argmax((keys == row).all(axis=1).to_numpy()))
    shown = ", ".join(f"{c} {v!r}" for c, v in zip(keys.columns, row, strict=True))
    raise table.fail(f"repeats ({shown}) of {table.where[first]}", column, second)


def _every_group_every_kpi(table: Table, frame: pd.DataFrame) -> None:
    kpis = sorted(set(frame["kpi"]))
    have = frame.groupby("group")["kpi"].agg(set)
    for g, names in have.items():
        missing = [k for k in kpis if k not in names]
        if missing:
            raise table.fail(
                f"group {g!r} has no rows for KPI {missing[0]!r} (other groups have them)", "kpi"
            )


def _with_whole_experiment(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Add one ``day = -1`` row per (group, KPI) unless the file has them for all."""
    whole = frame[frame["day"] == -1]
    pairs = frame[["group", "kpi"]].drop_duplicates()
    if not whole.empty:
        given = set(zip(whole["group"], whole["kpi"], strict=True))
        for g, k in zip(pairs["group"], pairs["kpi"], strict=True):
            if (g, k) not in given:
                raise table.fail(
                    f"whole-experiment rows (day -1) are given for some (group, KPI) but not "
                    f"for group {g!r}, KPI {k!r}: give them for every pair or for none",
                    "day",
                )
        for column in ("ci_low", "ci_high"):
            if column not in frame.columns:
                frame[column] = np.nan
        return frame
    from scipy import stats

    rows = []
    for (g, k), sub in frame.groupby(["group", "kpi"], sort=False):
        values = sub["value"].to_numpy(np.float64)
        mean = float(values.mean())
        d = len(values)
        if d > 1:
            half = float(stats.t.ppf(0.975, d - 1) * values.std(ddof=1) / math.sqrt(d))
            low, high = mean - half, mean + half
        else:
            low = high = math.nan
        row = {"group": g, "day": -1, "kpi": k, "value": mean, "ci_low": low, "ci_high": high}
        if "n" in frame.columns:
            row["n"] = math.nan  # units over all days are not the sum of the daily units
        rows.append(row)
    for column in ("ci_low", "ci_high"):
        if column not in frame.columns:
            frame[column] = np.nan
    return pd.concat([frame, pd.DataFrame(rows)], ignore_index=True)
