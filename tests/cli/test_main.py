import subprocess
import sys


def test_python_m_licli_help():
    result = subprocess.run([sys.executable, "-m", "licli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    for command in ("train", "evaluate", "demo"):
        assert command in result.stdout
