"""What the platform adds so an image runs like one from a CNB run image.

- A run user with a passwd entry and a writable home (uid 1000, `cnb` unless the base has a
  user 1000 already): `getpass.getuser()` works and gunicorn can write its control socket.
- One launcher per process at /cnb/process/<type>, with /cnb/process on PATH, so every Procfile
  process starts by name (`docker run --entrypoint worker IMAGE`), as in a pack-built image.
- Environment defaults: PYTHONUNBUFFERED=1 (logs appear at once, as on Heroku), LANG=C.UTF-8
  when the base sets no locale, PORT=8080 (Cloud Run / Knative) unless `docker run -e PORT=` says.

The files land in one small reproducible layer after the buildpack layers.
"""

from __future__ import annotations

import io
import json
import shlex
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boxwise.atomicfile import write_atomically
from boxwise.builder.basescan import MAX_USER_FILE, USER_FILES, base_record, scan_files
from boxwise.builder.cache import LayerCache
from boxwise.builder.options import Process
from boxwise.image.layer_writer import LayerWriter

RUN_UID = 1000
PROCESS_DIR = "/cnb/process"
DEFAULT_ENV = (("PYTHONUNBUFFERED", "1"), ("LANG", "C.UTF-8"), ("PORT", "8080"))


@dataclass(frozen=True)
class RunUser:
    name: str
    home: str
    passwd: bytes | None  # the new /etc/passwd, or None when the base's already has the user
    group: bytes | None  # the new /etc/group, or None when unchanged
    make_home: bool = True  # False: the base's own user, whose home the base has made


def _lines(data: bytes) -> list[list[str]]:
    text = data.decode("utf-8", "replace")
    return [line.split(":") for line in text.splitlines() if line.count(":") >= 2]


def run_user(passwd: bytes, group: bytes) -> RunUser:
    """The run user from the base's passwd and group: its own user 1000, else `cnb` added."""
    for fields in _lines(passwd):
        if len(fields) >= 7 and fields[2] == str(RUN_UID):
            if fields[5] in ("", "/", "/nonexistent"):  # no usable home: make one
                return RunUser(fields[0], f"/home/{fields[0]}", None, None)
            return RunUser(fields[0], fields[5], None, None, make_home=False)
    new_passwd = passwd + (b"" if not passwd or passwd.endswith(b"\n") else b"\n")
    new_passwd += f"cnb:x:{RUN_UID}:{RUN_UID}:boxwise run user:/home/cnb:/bin/sh\n".encode()
    new_group = None
    if not any(len(fields) >= 3 and fields[2] == str(RUN_UID) for fields in _lines(group)):
        new_group = group + (b"" if not group or group.endswith(b"\n") else b"\n")
        new_group += f"cnb:x:{RUN_UID}:\n".encode()
    return RunUser("cnb", "/home/cnb", new_passwd, new_group)


def process_script(process: Process) -> bytes:
    """/cnb/process/<type>: runs the process with any extra arguments given."""
    words = " ".join(shlex.quote(word) for word in [*process.command, *process.args])
    extra = "" if process.command[:2] == ["/bin/sh", "-c"] else ' "$@"'
    return f"#!/bin/sh\n# boxwise: the `{process.type}` process of this image\nexec {words}{extra}\n".encode()


def write_runtime_layer(writer: LayerWriter, user: RunUser, processes: list[Process]) -> None:
    """The layer's entries, in path order: launchers, passwd/group when changed, the home folder."""
    for process in sorted(processes, key=lambda p: p.type):
        writer.add_bytes(f"{PROCESS_DIR}/{process.type}", process_script(process), 0o755)
    if user.group is not None:
        writer.add_bytes("etc/group", user.group, 0o644)
    if user.passwd is not None:
        writer.add_bytes("etc/passwd", user.passwd, 0o644)
    if not user.make_home:
        return
    parts = user.home.strip("/").split("/")
    for end in range(1, len(parts)):  # the home's parents stay root's
        writer.add_dir("/".join(parts[:end]))
    writer.uid = writer.gid = RUN_UID
    writer.add_dir(user.home, 0o755)
    writer.uid = writer.gid = 0


def runtime_env(env: list[str], user: RunUser) -> list[str]:
    """The image env with HOME, the defaults the base does not set, and /cnb/process on PATH."""
    names = [item.partition("=")[0] for item in env]
    out = [item for item in env if not item.startswith("HOME=")] + [f"HOME={user.home}"]
    for name, value in DEFAULT_ENV:
        if name not in names and not (name == "LANG" and "LC_ALL" in names):
            out.append(f"{name}={value}")
    return [
        f"{item}:{PROCESS_DIR}" if item.startswith("PATH=") and PROCESS_DIR not in item else item
        for item in out
    ]


# ----------------------------------------------------------------------------- the base's users


def _from_engine(client: Any, image_id: str) -> dict[str, bytes]:
    """etc/passwd and etc/group read from a created (never started) container of the image."""
    import contextlib

    found: dict[str, bytes] = {}
    container = client.api.create_container(image_id, command=["true"], entrypoint=[])
    try:
        for name in USER_FILES:
            with contextlib.suppress(Exception):
                stream, stat = client.api.get_archive(container["Id"], "/" + name)
                if int(stat.get("size") or 0) > MAX_USER_FILE:
                    continue
                data = b"".join(stream)
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    member = next(m for m in tar.getmembers() if m.isreg())
                    handle = tar.extractfile(member)
                    found[name] = handle.read() if handle else b""
    finally:
        client.api.remove_container(container["Id"], force=True)
    return found


def base_user_files(
    client: Any, image_id: str, diff_ids: list[str], cache: LayerCache, read_blobs: Callable[[], list[Any]]
) -> tuple[bytes, bytes]:
    """(passwd, group) of the base, read once per base image and kept in the cache."""
    record = base_record(cache, image_id, "users.json")
    try:
        if record is None:
            raise OSError("no record for this base")
        data = json.loads(record.read_text(encoding="utf-8"))
        return data["passwd"].encode(), data["group"].encode()
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    if all(cache.has_blob(d) for d in diff_ids) or client is None:
        found = scan_files(read_blobs()).user_files()
    else:
        found = _from_engine(client, image_id)
    return remember_user_files(cache, image_id, found)


def remember_user_files(cache: LayerCache, image_id: str, found: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(passwd, group) from what the base's layers hold (root alone when nothing), kept per base."""
    passwd, group = found.get("etc/passwd", b""), found.get("etc/group", b"")
    if not passwd:
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        group = group or b"root:x:0:\n"
    record = base_record(cache, image_id, "users.json")
    if record is None:
        return passwd, group
    record.parent.mkdir(parents=True, exist_ok=True)
    payload = {"passwd": passwd.decode("utf-8", "replace"), "group": group.decode("utf-8", "replace")}
    write_atomically(record, json.dumps(payload).encode())
    return passwd, group
