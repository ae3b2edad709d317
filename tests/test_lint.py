"""``python -m pytest`` holds the lint line: ruff with the ``[tool.ruff]`` rules of pyproject.toml."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None, reason="ruff is not installed (pip install -e '.[test]')")
def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "licli", "tests", "benchmarks", "scripts"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, f"ruff check found problems (fix them or `ruff check --fix`):\n{result.stdout}{result.stderr}"
