"""The oracle images (built in the real engine from ENGINE_CASES) and the real dive that judges them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

PREFIX = "boxwise-test-image"
BUSYBOX = shutil.which("busybox") or "/bin/busybox"

# Dockerfile bodies after a FROM line; "{base}" is the session's busybox image.
ENGINE_CASES: dict[str, str] = {
    "overwrite": "FROM {base}\nCOPY f10k /data.bin\nCOPY f4k /data.bin\n",
    "rmfile": 'FROM {base}\nCOPY f10k /data.bin\nRUN ["/bin/busybox", "rm", "/data.bin"]\n',
    "rmdir": 'FROM {base}\nCOPY d /d/\nRUN ["/bin/busybox", "rm", "-rf", "/d"]\n',
    "onelayer": "FROM scratch\nCOPY busybox /bin/busybox\n",
    "opaque": (
        "FROM {base}\nCOPY d /d/\n"
        'RUN ["/bin/busybox", "sh", "-c", "rm -rf /d && mkdir /d && cp /bin/busybox /d/new"]\n'
    ),
    "chmod": (
        "FROM {base}\nCOPY f10k /data.bin\n"
        'RUN ["/bin/busybox", "chmod", "600", "/data.bin"]\n'
        'RUN ["/bin/busybox", "ln", "/data.bin", "/hard.bin"]\n'
        'RUN ["/bin/busybox", "ln", "-s", "/data.bin", "/sym.bin"]\n'
    ),
    "chown": 'FROM {base}\nCOPY d /d/\nRUN ["/bin/busybox", "chown", "-R", "1000:1000", "/d"]\n',
    "manywhiteouts": (
        "FROM {base}\n"
        "RUN mkdir /many && for i in $(seq 1 150); do echo $i > /many/f$i; done\n"
        "RUN rm /many/f*\n"
    ),
}


@dataclass
class DiveRun:
    archive: Path
    json: dict
    ci_stdout: str
    ci_code: int

    @property
    def user_wasted(self) -> str:
        return re.search(r"userWastedPercent: (.*?) %", _plain(self.ci_stdout)).group(1)

    def rule_status(self) -> dict[str, str]:
        found = re.findall(r"(PASS|FAIL|SKIP): (\w+)", _plain(self.ci_stdout))
        return {name: status for status, name in found}


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def run_dive(archive: Path, workdir: Path, ci_config: Path | None = None, *flags: str) -> DiveRun:
    """The real dive on a docker-archive: `--json` (fresh file: dive never truncates) and CI mode."""
    out = workdir / f"{archive.stem}-{os.getpid()}-{len(list(workdir.iterdir()))}.json"
    env = {**os.environ, "CI": "true"}
    subprocess.run(
        ["dive", "--source", "docker-archive", str(archive), "--json", str(out)],
        check=True,
        capture_output=True,
        env=env,
        timeout=600,
    )
    args = ["dive", "--source", "docker-archive", str(archive), *flags]
    if ci_config is not None:
        args += ["--ci-config", str(ci_config)]
    ci = subprocess.run(args, capture_output=True, text=True, env=env, cwd=workdir, timeout=600)
    return DiveRun(archive, json.loads(out.read_text()), ci.stdout, ci.returncode)
