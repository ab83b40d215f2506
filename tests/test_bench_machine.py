"""The machine facts every benchmark figure carries: the CPU flags that decide the speed, read from /proc/cpuinfo."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from common import SPEED_FLAGS, machine  # noqa: E402

CPUINFO = Path("/proc/cpuinfo")


@pytest.mark.skipif(not CPUINFO.exists(), reason="no /proc/cpuinfo on this system")
def test_machine_names_the_speed_flags_that_the_cpu_has():
    flags: set[str] = set()
    for line in CPUINFO.read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    info = machine()
    # exactly the speed flags the first CPU lists, in SPEED_FLAGS order
    assert info["cpu_flags"] == [f for f in SPEED_FLAGS if f in flags]
    assert info["torch"] == torch.__version__


def test_machine_names_torchs_cpu_capability():
    info = machine()
    if hasattr(torch.backends.cpu, "get_cpu_capability"):
        assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
        # torch's own dispatch agrees with the flags read from /proc/cpuinfo
        if info["cpu_capability"].startswith(("AVX2", "AVX512")) and CPUINFO.exists():
            assert "avx2" in info["cpu_flags"]
        if info["cpu_capability"].startswith("AVX512") and CPUINFO.exists():
            assert "avx512f" in info["cpu_flags"]
    else:
        assert "cpu_capability" not in info
