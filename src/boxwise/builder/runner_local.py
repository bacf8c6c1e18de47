"""`--runner local`: the buildpacks run in place, in this machine's (this CI job's) own image.

As kaniko does, the job's image is the build image: the lifecycle runs with the `python3` on PATH,
without any engine. Container paths map under a temporary root (`/layers` → `<root>/layers`);
what the buildpacks wrote with the root in it (layer env values) is mapped back on export. The job
image should be the run image (same python3), since pip's console scripts name its interpreter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

# Text files a buildpack writes with paths in them are small; bigger files are left as they are.
_MAX_REWRITE = 1 << 20


class LocalRoot:
    """The same interface as runner.BuildContainer, on a temporary folder of this machine."""

    def __init__(self, name_hint: str) -> None:
        self.name_hint = name_hint
        self.root: Path | None = None

    def __enter__(self) -> LocalRoot:
        self.root = Path(tempfile.mkdtemp(prefix=f"boxwise-local-{self.name_hint[:30]}-"))
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def path(self, container_path: str) -> str:
        assert self.root is not None
        return str(self.root / container_path.lstrip("/"))

    def unmap(self, value: str) -> str:
        """A value the buildpacks wrote, with the temporary root taken out again."""
        return value.replace(str(self.root), "") if self.root is not None else value

    def put(self, tar: Path | bytes, dest: str = "/") -> None:
        import io

        target = self.path(dest)
        if isinstance(tar, Path):
            with tarfile.open(tar) as source:
                _extract(source, target)
        else:
            with tarfile.open(fileobj=io.BytesIO(tar)) as source:
                _extract(source, target)

    def get(self, path: str, dest: Path, limit: int | None = None) -> None:
        local = Path(self.path(path))
        if limit is not None and local.is_file() and local.stat().st_size > limit:
            from boxwise.errors import UserError

            raise UserError(f"{path} in the build is larger than {limit >> 20} MiB; it is not read")
        self._unmap_files(local)
        with tarfile.open(dest, "w") as tar:
            tar.add(str(local), arcname=local.name)

    def _unmap_files(self, folder: Path) -> None:
        """Take the temporary root out of what the buildpacks wrote into files and links, as unmap
        does for env values: script shebangs, .pth files, pyvenv.cfg name /layers/..., not the root."""
        assert self.root is not None
        needle = str(self.root).encode()
        for path in [folder, *folder.rglob("*")] if folder.is_dir() else [folder]:
            if path.is_symlink():
                target = os.readlink(path)
                if target.startswith(str(self.root)):
                    path.unlink()
                    path.symlink_to(self.unmap(target))
            elif path.suffix == ".pyc":
                continue  # marshal data: a byte edit breaks it (compile_site names /layers/… already)
            elif path.is_file() and path.stat().st_size <= _MAX_REWRITE:
                data = path.read_bytes()
                if needle in data:
                    path.write_bytes(data.replace(needle, b""))

    def read_file(self, path: str) -> bytes:
        return Path(self.path(path)).read_bytes()

    def exec(self, command: list[str], env: dict[str, str], on_line: Callable[[str], None]) -> int:
        run_env = {**os.environ, **env, "PATH": os.environ.get("PATH", "")}
        process = subprocess.Popen(
            command,
            cwd=self.path("/workspace"),
            env=run_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        with process:
            for line in process.stdout:
                on_line(line.rstrip("\n"))
        return process.returncode


def _extract(source: tarfile.TarFile, target: str) -> None:
    try:
        source.extractall(target, filter="tar")  # no absolute paths or `..` out of the root
    except TypeError:  # pragma: no cover - Python without extraction filters
        source.extractall(target)
