"""The screenplays' canonical text between the two passes of a prepare, on disk: memory holds one screenplay."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import BinaryIO

from .text import text_blocks


class Spool:
    """The screenplays' canonical text between the two passes of a prepare: in an anonymous temporary file.

    Created on the first screenplay (a corpus of transcripts never makes one), in the nearest existing folder of the
    prepared data's (the disk the user chose for it); with ``O_TMPFILE`` (Linux) it has no name at all, elsewhere it
    is unlinked as it is made, and closing it -- at the end of the prepare, whatever way it ends -- frees it.  A
    document is read back whole (one screenplay: within the readers' size cap) and handed out in the same blocks as
    its text in memory was, so its ids are the same.
    """

    def __init__(self, folder: Path, block_chars: int):
        self.folder = Path(folder)
        self.block_chars = block_chars  # the blocks a document's text is handed out in
        self.fh: BinaryIO | None = None

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()
            self.fh = None

    def start(self) -> int:
        """Open the spool if need be; where the next document's text begins."""
        if self.fh is None:
            where = self.folder.absolute()
            while not where.is_dir() and where != where.parent:
                where = where.parent
            self.fh = tempfile.TemporaryFile(dir=where)
        return self.fh.seek(0, os.SEEK_END)

    def write(self, text: str) -> None:
        self.fh.write(text.encode("utf-8"))

    def reader(self, start: int):
        """The blocks of the document written from ``start`` up to now, as a source's ``blocks``."""
        return partial(self._blocks, start, self.fh.seek(0, os.SEEK_END) - start)

    def _blocks(self, start: int, size: int) -> Iterator[str]:
        self.fh.seek(start)
        text = self.fh.read(size).decode("utf-8")
        yield from text_blocks(text, self.block_chars)
