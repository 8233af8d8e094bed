"""keep_freed_cpu_memory: freed blocks are reused, not page-faulted in again."""

import platform
import subprocess
import sys

import pytest

from gankit.device import keep_freed_cpu_memory, on_glibc

# Page faults of allocating, filling and freeing 64 MB twenty times after two warm-up rounds. Where
# the heap puts such a block may still move once or twice (imports allocate too), so a kept heap
# may fault a round or two in again; glibc's defaults fault every round in.
FAULTS = """
import resource, sys, torch
from gankit.device import keep_freed_cpu_memory
if sys.argv[1] == "keep":
    assert keep_freed_cpu_memory()
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(2):
    torch.ones(2**24)
start = faults()
for _ in range(20):
    x = torch.ones(2**24)  # 64 MB: above glibc's largest mmap threshold, so mmapped by default
    del x
print(faults() - start)
"""


def _faults(mode: str) -> int:
    proc = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])


@pytest.mark.skipif(not on_glibc(), reason="glibc's malloc only")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    default, kept = _faults("default"), _faults("keep")
    assert default > 20 * 2**24 * 4 // 4096 // 2  # ~16,000 fresh pages a round by default
    assert kept < default / 5


def test_other_c_libraries_are_left_alone(monkeypatch):
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert keep_freed_cpu_memory() is False


def test_the_command_keeps_freed_memory(monkeypatch):
    from click.testing import CliRunner

    import gankit.device
    from gankit.cli import main

    calls = []
    monkeypatch.setattr(gankit.device, "keep_freed_cpu_memory", lambda: calls.append(1) or True)
    assert CliRunner().invoke(main, ["presets"]).exit_code == 0
    assert calls == [1]


def test_cpu_description_names_model_vector_unit_and_cores(monkeypatch):
    import builtins
    import os

    import torch

    from gankit.device import cpu_description

    capability = torch.backends.cpu.get_cpu_capability()
    text = cpu_description()
    assert text.endswith(f", {capability}, {os.cpu_count()} cores")
    assert text.split(",")[0].strip()  # a model name, not empty

    real_open = builtins.open

    def no_cpuinfo(path, *args, **kwargs):
        if str(path) == "/proc/cpuinfo":
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_cpuinfo)
    monkeypatch.setattr(platform, "processor", lambda: "")
    assert cpu_description() == f"{platform.machine()}, {capability}, {os.cpu_count()} cores"
