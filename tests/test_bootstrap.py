"""scripts/bootstrap.sh's local settings file (README, "What the two commands do")."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts/bootstrap.sh"


def test_the_local_settings_stay_private_when_a_value_is_rewritten(
    tmp_path: Path,
) -> None:
    """Every run rewrites DATABASE_URL; the copy it moved over var/local.env was
    made with the umask's mode, so the secret keys became readable by all."""
    function = re.search(r"(?ms)^set_env\(\) \{.*?^\}$", SCRIPT.read_text())
    assert function is not None
    env_file = tmp_path / "local.env"
    env_file.write_text("DATABASE_URL=postgres://old\nDJANGO_SECRET_KEY=secret\n")
    env_file.chmod(0o600)
    subprocess.run(
        [
            "bash",
            "-euc",
            f"umask 022; env_file={env_file}\n{function.group(0)}\n"
            "set_env DATABASE_URL postgres://new",
        ],
        check=True,
        timeout=30,
    )
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert env_file.read_text() == (
        "DJANGO_SECRET_KEY=secret\nDATABASE_URL=postgres://new\n"
    )
