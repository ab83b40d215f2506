"""The one writer (scriptgen.files.fsutil.write_bytes): regular files only, no replace without overwrite, never half a
file."""

from __future__ import annotations

import os
import socket
import stat
import threading

import pytest

from scriptgen.errors import ScriptgenError
from scriptgen.files.fsutil import Exists, Refused, check_target, special_kind, write_bytes


def _fifo(path):
    os.mkfifo(path)
    return path


def _socket(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock


def test_a_new_file_is_written(tmp_path):
    write_bytes(tmp_path / "a.txt", b"new", overwrite=False)
    assert (tmp_path / "a.txt").read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["a.txt"]  # no temporary left beside it


def test_a_regular_file_is_replaced_only_with_overwrite(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")
    with pytest.raises(Exists, match="exists; pass --overwrite"):
        write_bytes(path, b"new", overwrite=False, exists_advice="pass --overwrite")
    assert path.read_bytes() == b"old"
    write_bytes(path, b"new", overwrite=True)
    assert path.read_bytes() == b"new"


def test_a_fifo_is_refused_even_with_overwrite_and_never_opened(tmp_path):
    path = _fifo(tmp_path / "pipe")
    for overwrite in (False, True):
        with pytest.raises(Refused) as info:
            write_bytes(path, b"data", overwrite=overwrite, exists_advice="pass --overwrite to replace it")
        assert "a FIFO" in str(info.value) and "--overwrite" not in str(info.value)
        assert stat.S_ISFIFO(os.lstat(path).st_mode)  # the node itself is still there
    assert sorted(os.listdir(tmp_path)) == ["pipe"]


def test_a_socket_is_refused_even_with_overwrite(tmp_path):
    sock = _socket(tmp_path / "sock")
    try:
        with pytest.raises(Refused, match="a socket"):
            write_bytes(tmp_path / "sock", b"data", overwrite=True)
        assert stat.S_ISSOCK(os.lstat(tmp_path / "sock").st_mode)
    finally:
        sock.close()


def test_a_folder_is_refused_even_with_overwrite(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep").write_text("x")
    with pytest.raises(Refused, match="a folder"):
        write_bytes(tmp_path / "d", b"data", overwrite=True)
    assert (tmp_path / "d" / "keep").read_text() == "x"


def test_a_device_node_is_refused_even_with_overwrite(tmp_path):
    assert special_kind("/dev/null") == "a character device"  # lstat only: nothing is written to /dev
    try:
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        path = None  # not root: the system node stands in, read through lstat only
    else:
        path = tmp_path / "null"
    if path is not None:
        with pytest.raises(Refused, match="a character device"):
            write_bytes(path, b"data", overwrite=True)
        assert stat.S_ISCHR(os.lstat(path).st_mode)
    with pytest.raises(Refused, match="a character device"):
        check_target("/dev/null", overwrite=True)


def test_a_symlink_is_never_followed_nor_replaced(tmp_path):
    target = tmp_path / "target.txt"
    target.write_bytes(b"precious")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    for overwrite in (False, True):
        with pytest.raises(Refused, match="a symbolic link"):
            write_bytes(link, b"data", overwrite=overwrite)
    assert target.read_bytes() == b"precious" and link.is_symlink()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(Refused, match="a symbolic link"):
        write_bytes(dangling, b"data", overwrite=True)
    assert not (tmp_path / "nowhere").exists()


def test_a_file_appearing_during_the_write_is_kept_without_overwrite(tmp_path):
    path = tmp_path / "a.txt"

    def content(fh):
        path.write_bytes(b"someone else's")  # appears after the first check, before the final name is taken
        fh.write(b"mine")

    with pytest.raises(Exists):
        write_bytes(path, content, overwrite=False)
    assert path.read_bytes() == b"someone else's"
    assert os.listdir(tmp_path) == ["a.txt"]


def test_a_failed_write_leaves_no_half_file_under_the_final_name(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"old")

    def content(fh):
        fh.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(ScriptgenError, match="the disk is full"):
        write_bytes(path, content, advice="free space")
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.txt"]


def test_readers_never_see_a_half_written_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"A" * 100_000)
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(30):
            write_bytes(path, (b"B" if i % 2 else b"A") * 100_000)
    finally:
        stop.set()
        reader.join()
    assert seen <= {b"A" * 100_000, b"B" * 100_000}
