"""What CI gates on: every `supported` family of the bundled registry still passes conformance, re-run now."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dayzero import registry

pytestmark = pytest.mark.slow


def test_bundled_registry_has_supported_families_backed_by_reports():
    supported = registry.families(status="supported")
    assert supported, "no family is supported: promote the ones whose conformance passes"
    assert all(f.conformance.report_sha256 for f in supported)


@pytest.mark.timeout(2400)  # about 20 s a family on one core, 40 supported families, two at a time
def test_conformance_gate_reruns_every_supported_family(reference_dir):
    env = {**os.environ, "DAYZERO_REFERENCE": str(reference_dir), "OMP_NUM_THREADS": "1"}
    jobs = str(min(2, os.cpu_count() or 1))
    proc = subprocess.run([sys.executable, "-m", "dayzero", "conformance", "gate", "--jobs", jobs],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "every supported family passes" in proc.stdout
