"""Measuring a row: peak memory, CPU (and GPU) utilisation while it trains; the machine and commit it ran on.

    with ResourceMonitor("cpu") as monitor:
        train(...)
    monitor.summary()   # {"peak_rss_mb": ..., "cpu_util_pct": ..., "process_cpu_pct": ..., "gpu_util_pct": ..., ...}
    machine_info()      # git commit, scriptgen/torch/python versions, platform, CPU count

psutil and pynvml (nvidia-ml-py) are used when importable; without them those
columns of ``results.csv`` stay blank.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


class ResourceMonitor:
    """Peak RSS, mean CPU (and GPU) utilisation of this process while a row trains.

    A background thread samples every ``interval`` seconds; psutil and pynvml
    (nvidia-ml-py) are used when importable, else those columns stay blank.
    """

    def __init__(self, device: str = "cpu", interval: float = 0.5):
        self.device = device
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cpu: list[float] = []
        self._gpu: list[float] = []
        self._gpu_mem: list[float] = []
        self._rss: list[float] = []
        self._psutil = None
        self._proc = None
        self._nvml = None
        self._handle = None

    def __enter__(self) -> "ResourceMonitor":
        try:
            import psutil

            self._psutil = psutil
            self._proc = psutil.Process()
            psutil.cpu_percent(interval=None)  # start the system-wide counter
        except ImportError:
            pass
        self._hwm_reset = _reset_peak_rss()
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
            self._open_nvml()
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self._thread = threading.Thread(target=self._loop, name="scriptgen-monitor", daemon=True)
        self._thread.start()
        return self

    def _open_nvml(self) -> None:
        try:
            import pynvml
            import torch

            pynvml.nvmlInit()
            index = torch.cuda.current_device()
            uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
            try:
                self._handle = (
                    pynvml.nvmlDeviceGetHandleByUUID(f"GPU-{uuid}")
                    if uuid
                    else pynvml.nvmlDeviceGetHandleByIndex(index)
                )
            except Exception:
                self._handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._nvml = pynvml
        except Exception:  # not installed, no driver access: leave the columns blank
            self._nvml = None

    def _sample(self) -> None:
        if self._psutil is not None:
            self._cpu.append(self._psutil.cpu_percent(interval=None))
            try:
                self._rss.append(self._proc.memory_info().rss / 2**20)
            except Exception:
                pass
        if self._nvml is not None:
            try:
                self._gpu.append(float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu))
                self._gpu_mem.append(self._nvml.nvmlDeviceGetMemoryInfo(self._handle).used / 2**20)
            except Exception:
                pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.wall = time.perf_counter() - self._t0
        self.cpu_seconds = _cpu_seconds() - self._cpu0
        if not self._cpu:
            self._sample()  # a row shorter than one interval still gets one sample
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except Exception:
                pass

    def summary(self) -> dict[str, float | None]:
        peak = max(self._rss, default=0.0)
        hwm = _peak_rss_mb(self._hwm_reset)
        peak = max(peak, hwm or 0.0) or None
        cuda_peak = None
        if self.device == "cuda":
            import torch

            cuda_peak = torch.cuda.max_memory_allocated() / 2**20
        return {
            "peak_rss_mb": rounded(peak, 1),
            "cpu_util_pct": rounded(sum(self._cpu) / len(self._cpu), 1) if self._cpu else None,
            "process_cpu_pct": rounded(100.0 * self.cpu_seconds / self.wall, 1) if self.wall > 0 else None,
            "gpu_util_pct": rounded(sum(self._gpu) / len(self._gpu), 1) if self._gpu else None,
            "gpu_mem_mb": rounded(max(self._gpu_mem), 1) if self._gpu_mem else None,
            "cuda_peak_mb": rounded(cuda_peak, 1),
        }


def rounded(x: float | None, digits: int) -> float | None:
    """``round(x, digits)``, None staying None."""
    return None if x is None else round(x, digits)


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _reset_peak_rss() -> bool:
    """Linux: reset this process's high-water mark (VmHWM) so the next read is this row's peak."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb(was_reset: bool) -> float | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    if was_reset:
        return None
    try:  # the whole process's peak: an upper bound for this row
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024
    except (ImportError, OSError):
        return None


def git_commit() -> str:
    """The repository's HEAD commit, or "" when git or the repository is not there."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def machine_info() -> dict[str, Any]:
    """The commit, versions and machine a row ran on (columns of results.csv)."""
    import torch

    from .._version import __version__

    return {
        "git_commit": git_commit(),
        "scriptgen": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }
