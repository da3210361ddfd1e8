"""Which work each performance belongs to: a CSV table read once, matched to audio files.

Columns (header names, case-sensitive): the performance in ``path`` or ``file`` (matched on the
file name, e.g. ``song.wav``) or in ``track`` (matched on songscope's track name: the file stem,
or the folder of a MUSDB-style ``mixture`` file; a ``songscope synth`` manifest has it); the work
in ``work`` or ``work_id``. An optional ``split`` column marks works whose rows say ``test``
as test-only (the t-SNE plot of ``evaluate covers`` circles them).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..library.inputs import track_name

__all__ = ["WorkTable", "read_works"]

_PERFORMANCE_COLUMNS = ("path", "file", "track")
_WORK_COLUMNS = ("work", "work_id")


@dataclass
class WorkTable:
    """Performance -> work, keyed by file name (``path`` / ``file`` columns) or track name.

    Attributes:
        works: key -> work id. by_track: True when keys are track names, False for file names.
        test_works: works whose rows have ``split == "test"``.
        source: the CSV file.
    """

    works: dict[str, str]
    by_track: bool
    source: Path
    test_works: set[str] = field(default_factory=set)

    def work_of(self, path: str | Path) -> str | None:
        """The work of an audio file, None when the table has no row for it."""
        path = Path(path)
        return self.works.get(track_name(path) if self.by_track else path.name)

    def by_name(self) -> dict[str, str]:
        """Track name -> work (file names lose their ending), for tables of names rather than files."""
        return dict(self.works) if self.by_track else {Path(k).stem: w for k, w in self.works.items()}


def read_works(path: str | Path) -> WorkTable:
    """Read a works CSV (see the module docstring).

    Raises:
        InputError: missing or unreadable file, missing columns, an empty work id, or one
            performance given two works (one line each).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such works table")
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV table ({exc})") from None
    header = set(rows[0]) if rows else set()
    key = next((c for c in _PERFORMANCE_COLUMNS if c in header), None)
    work = next((c for c in _WORK_COLUMNS if c in header), None)
    if key is None or work is None:
        raise InputError(f"{path}: a works table needs a 'path', 'file' or 'track' column and a 'work' or "
                         f"'work_id' column (found: {', '.join(sorted(header)) or 'no rows'})")
    works: dict[str, str] = {}
    tests: set[str] = set()
    for number, row in enumerate(rows, start=2):
        name = (row.get(key) or "").strip()
        work_id = (row.get(work) or "").strip()
        if not name or not work_id:
            raise InputError(f"{path}: line {number}: empty {key if not name else work} cell")
        name = name if key == "track" else Path(name).name
        if works.setdefault(name, work_id) != work_id:
            raise InputError(f"{path}: {name} is given two works ({works[name]!r} and {work_id!r})")
        if (row.get("split") or "").strip() == "test":
            tests.add(work_id)
    return WorkTable(works, key == "track", path, tests)
