"""Files: the project's one way to write a file and one way to read a file it did not write.

Every other stage touches the disk through here, so the safety rules hold everywhere:

- ``fsutil.py``: the atomic writer (:func:`write_bytes`: a temporary name, fsync,
  then rename; regular files only: a FIFO, device, socket, folder or symlink
  under the name is refused, even with overwrite), replacing and recovering a whole folder
  (:func:`replace_folder`, :func:`recover_folder`), the run lock
  (:func:`hold_lock`), name checks (:func:`check_name`) and the one-line
  disk errors (:func:`disk_error`).
- ``safeload.py``: hostile-file readers: regular files only (a FIFO, device or
  symlink is refused before it is opened), JSON within size and nesting caps,
  safetensors headers checked before any tensor is read.

Nothing here knows what a corpus or a model is; both modules import only
:mod:`scriptgen.errors`.
"""

from .fsutil import (
    Exists,
    Refused,
    check_name,
    check_target,
    disk_error,
    hold_lock,
    recover_folder,
    replace_folder,
    write_bytes,
)
from .safeload import NotRegular, open_regular, read_bytes, read_header, read_json, sha256

__all__ = [
    "Exists",
    "Refused",
    "check_target",
    "NotRegular",
    "check_name",
    "disk_error",
    "hold_lock",
    "open_regular",
    "read_bytes",
    "read_header",
    "read_json",
    "recover_folder",
    "replace_folder",
    "sha256",
    "write_bytes",
]
