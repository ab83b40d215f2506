"""The machine facts every benchmark figure carries: the CPU flags that decide the speed, and torch's capability."""

import sys
from pathlib import Path

import torch

from scriptgen.device import cpu_fields, cpu_flags

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from common import SPEED_FLAGS, machine  # noqa: E402

# two CPUs of a small AVX-512 BF16 machine, as Linux lists them (the second one's flags differ, to see which is read)
CPUINFO = """processor\t: 0
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_bf16 avx512_vnni

processor\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse2 avx
"""


def test_cpu_flags_are_the_first_cpus_whole_words(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    assert cpu_flags(str(path)) == {"fpu", "sse2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni"}


def test_cpu_fields_are_the_first_cpus_block(tmp_path):
    path = tmp_path / "cpuinfo"
    path.write_text(CPUINFO)
    fields = cpu_fields(str(path))
    assert fields["processor"] == "0" and fields["model name"] == "AMD EPYC"
    assert fields["flags"].endswith("avx512_vnni")  # not the second CPU's


def test_machine_names_the_cpu_model_from_cpuinfo():
    model = cpu_fields().get("model name")
    if model:
        assert machine()["cpu"] == model


def test_no_cpuinfo_means_no_flags(tmp_path):
    assert cpu_flags(str(tmp_path / "missing")) == set()


def test_machine_names_the_speed_flags_in_order():
    info = machine()
    assert info["cpu_flags"] == [f for f in SPEED_FLAGS if f in cpu_flags()]
    assert info["torch"] == torch.__version__


def test_machine_names_torchs_cpu_capability_and_it_agrees_with_the_flags():
    info = machine()
    if not hasattr(torch.backends.cpu, "get_cpu_capability"):
        assert "cpu_capability" not in info
        return
    assert info["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    if Path("/proc/cpuinfo").exists():  # torch's own dispatch against the flags Linux lists
        if info["cpu_capability"].startswith(("AVX2", "AVX512")):
            assert "avx2" in info["cpu_flags"]
        if info["cpu_capability"].startswith("AVX512"):
            assert "avx512f" in info["cpu_flags"]
