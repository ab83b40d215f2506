"""The device and precision of a run, chosen once and passed on.

device = resolve_device("auto")          # CUDA when present, else CPU
amp = autocast_dtype("auto", device)     # torch.bfloat16 where native, else None (fp32)
"""

from __future__ import annotations

import torch

from .errors import ScriptgenError


def resolve_device(name: str = "auto") -> torch.device:
    """The one device of a run: "auto" takes CUDA when present."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ScriptgenError("--device cuda was asked for but CUDA is not available here; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ScriptgenError(f"--device {name!r} is unknown; choose auto, cpu or cuda")
    return torch.device(name)


def cpu_fields(cpuinfo: str = "/proc/cpuinfo") -> dict[str, str]:
    """The first CPU's ``key: value`` lines of ``cpuinfo`` ("model name", "flags", ...); empty where there is no
    such file (not Linux)."""
    fields: dict[str, str] = {}
    try:
        with open(cpuinfo, encoding="ascii", errors="ignore") as fh:
            for line in fh:
                if not line.strip():
                    if fields:
                        break  # the blank line that ends the first CPU's block
                    continue
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> set[str]:
    """The instruction-set flags of the first CPU in ``cpuinfo`` ("avx2", "avx512_bf16", ...)."""
    return set(cpu_fields(cpuinfo).get("flags", "").split())


def _cpu_has_bf16() -> bool:
    flags = cpu_flags()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """bfloat16 for autocast where asked for or where the hardware computes it natively; None means fp32."""
    if precision == "fp32":
        return None
    native = torch.cuda.is_bf16_supported() if device.type == "cuda" else _cpu_has_bf16()
    if precision == "bf16" and not native:
        # oneDNN has no bf16 LSTM without AVX512-BF16/AMX; emulating it would be slower than fp32 anyway
        raise ScriptgenError(
            f"--precision bf16 needs a CUDA GPU or a CPU with AVX512-BF16/AMX, and this {device.type} has neither; "
            f"use --precision auto or fp32"
        )
    return torch.bfloat16 if native else None
