"""Small file-system helpers shared by the cache (prepare) and the checkpoints."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (its temporary files are then in use)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def written_by_another_live_process(path) -> bool:
    """Whether a temporary ``NAME-PID`` belongs to another process that still runs (so it must be left alone)."""
    pid = str(path.name).rsplit("-", 1)[-1]
    return pid.isdigit() and int(pid) != os.getpid() and pid_alive(int(pid))
