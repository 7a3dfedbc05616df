import subprocess
import sys


def test_client_import_loads_no_server_torch_or_vllm() -> None:
    code = (
        "import sys, locvlm_client\n"
        "bad = [m for m in ('torch', 'vllm', 'locvlm', 'transformers') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"locvlm_client imported {out.stdout.strip()}"


def test_the_import_check_can_see_a_server_import() -> None:
    # Control: the same probe must notice when the server package is loaded.
    code = "import sys, locvlm.coords\nprint('locvlm' in sys.modules)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
