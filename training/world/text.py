"""Vectorised string building for millions of rows: ids and timestamps become Arrow string arrays.

Python-level ``f"{x:07d}"`` over 10M rows takes tens of seconds; writing the digits into a
fixed-width byte matrix and handing its buffer to Arrow takes well under a second.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

_SECONDS_PER_DAY = 86_400
_INT32_MAX = 2**31 - 1


def _put_digits(matrix: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    """Write ``values`` zero-padded to ``width`` digits into ``matrix[:, column:column + width]``."""
    rest = values.astype(np.int64, copy=True)
    for j in range(width - 1, -1, -1):
        matrix[:, column + j] = 48 + (rest % 10)
        rest //= 10


def _matrix_to_arrow(matrix: np.ndarray) -> pa.Array:
    n, width = matrix.shape
    data = pa.py_buffer(np.ascontiguousarray(matrix).reshape(-1))
    large = n * width > _INT32_MAX
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int64 if large else np.int32)
    return pa.Array.from_buffers(
        pa.large_string() if large else pa.string(), n, [None, pa.py_buffer(offsets), data]
    )


def id_width(max_number: int, minimum: int) -> int:
    """Digits needed for ids up to ``max_number``, never fewer than ``minimum``."""
    return max(minimum, len(str(int(max_number))))


def format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` followed by ``numbers`` zero-padded to ``width`` digits, e.g. ``C0000001``."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    matrix = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    matrix[:, : len(head)] = head
    _put_digits(matrix, len(head), numbers, width)
    return _matrix_to_arrow(matrix)


def _civil(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    as_days = days.astype("datetime64[D]")
    months = as_days.astype("datetime64[M]")
    year = as_days.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (as_days - months).astype(np.int64) + 1
    return year, month, day


def _lookup(rows: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Gather whole fixed-width rows at once (as opaque records) instead of byte by byte."""
    width = rows.shape[1]
    records = np.ascontiguousarray(rows).view(f"V{width}").reshape(-1)
    return records[index].view(np.uint8).reshape(len(index), width)


def _date_rows(first_day: int, n_days: int) -> np.ndarray:
    """``YYYY-MM-DD`` bytes for each day of a range: dates repeat, so format each once."""
    year, month, day = _civil(np.arange(first_day, first_day + n_days, dtype=np.int64))
    matrix = np.empty((n_days, 10), dtype=np.uint8)
    _put_digits(matrix, 0, year, 4)
    matrix[:, 4] = ord("-")
    _put_digits(matrix, 5, month, 2)
    matrix[:, 7] = ord("-")
    _put_digits(matrix, 8, day, 2)
    return matrix


def _clock_rows() -> np.ndarray:
    """`` HH:MM:SS`` bytes for every second of a day."""
    second = np.arange(_SECONDS_PER_DAY, dtype=np.int64)
    matrix = np.empty((_SECONDS_PER_DAY, 9), dtype=np.uint8)
    matrix[:, 0] = ord(" ")
    _put_digits(matrix, 1, second // 3600, 2)
    matrix[:, 3] = ord(":")
    _put_digits(matrix, 4, (second // 60) % 60, 2)
    matrix[:, 6] = ord(":")
    _put_digits(matrix, 7, second % 60, 2)
    return matrix


def format_dates(epoch_days: np.ndarray) -> pa.Array:
    """``YYYY-MM-DD`` strings from days since 1970-01-01."""
    days = np.asarray(epoch_days, dtype=np.int64)
    if len(days) == 0:
        return pa.array([], type=pa.string())
    first = int(days.min())
    return _matrix_to_arrow(_lookup(_date_rows(first, int(days.max()) - first + 1), days - first))


def format_timestamps(epoch_seconds: np.ndarray) -> pa.Array:
    """``YYYY-MM-DD HH:MM:SS`` strings from whole seconds since 1970-01-01 00:00:00."""
    seconds = np.asarray(epoch_seconds, dtype=np.int64)
    if len(seconds) == 0:
        return pa.array([], type=pa.string())
    days, in_day = np.divmod(seconds, _SECONDS_PER_DAY)
    first = int(days.min())
    matrix = np.empty((len(seconds), 19), dtype=np.uint8)
    matrix[:, :10] = _lookup(_date_rows(first, int(days.max()) - first + 1), days - first)
    matrix[:, 10:] = _lookup(_clock_rows(), in_day)
    return _matrix_to_arrow(matrix)


def arrow_to_pandas(table: pa.Table) -> pd.DataFrame:
    """Strings stay Arrow-backed (``string[pyarrow]``, no per-row Python objects); ints become ``Int64``."""

    def mapper(dtype: pa.DataType) -> object:
        if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
            return pd.StringDtype("pyarrow")
        if pa.types.is_integer(dtype):
            return pd.Int64Dtype()
        return None

    return table.to_pandas(types_mapper=mapper, self_destruct=True, split_blocks=True)
