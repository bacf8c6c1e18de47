"""Where an app's baseline image is, and getting it there: resolve, read, pull, keep.

The baseline is `--baseline`, else `[tool.boxwise] baseline` with `{app}` and `{branch}` (the
target branch) filled in; `boxwise ci` adds its own default. A baseline that cannot be read is a
note in the report, never an error. A `docker://` baseline that names a registry is pulled when
the engine lacks it (a fresh CI engine) and pushed when `boxwise ci` keeps a new one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from boxwise.errors import UserError
from boxwise.image.registry_auth import gitlab_job_credentials

if TYPE_CHECKING:
    from boxwise.analyze.efficiency import Analysis


def target_branch(env: Mapping[str, str]) -> str:
    """The branch a merge request goes into; on a branch pipeline, the branch itself."""
    for name in (
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME",
        "GITHUB_BASE_REF",
        "CI_COMMIT_BRANCH",
        "GITHUB_REF_NAME",
        "CI_DEFAULT_BRANCH",
    ):
        if env.get(name):
            return env[name]
    return "main"


def baseline_ref(template: str, app: str, branch: str) -> str:
    """`[tool.boxwise] baseline` with {app} and {branch} filled in, both made tag-safe."""
    return template.replace("{app}", _tag_safe(app)).replace("{branch}", _tag_safe(branch))


def _tag_safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "x"


def load_baseline(ref: str | None, how: str) -> tuple[Analysis | None, dict[str, int] | None, str | None]:
    """(analysis, file view, None), or (None, None, why) when there is no baseline: never an error."""
    if ref is None:
        return None, None, how
    try:
        from boxwise.analyze.diff import load_analysis

        analysis, files = load_analysis(ref)
    except UserError as exc:
        return None, None, f"{ref} could not be read ({exc})"
    return analysis, files, None


def resolve_baseline(
    explicit: str | None,
    settings: Any,
    app_key: str,
    env: Mapping[str, str],
    default_template: str | None = None,
) -> tuple[str | None, str]:
    """(baseline ref, why there is none): --baseline, else the template for the target branch."""
    if explicit:
        return explicit, ""
    template = settings.baseline or default_template
    if template:
        return baseline_ref(template, app_key, target_branch(env)), ""
    return None, "no --baseline given and no `baseline` template in [tool.boxwise]"


def registry_host(name: str) -> str | None:
    """The registry a repository name points at (`registry.example.com/a/b` → its host), else None."""
    first, slash, _ = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return None


def _split_name(name: str) -> tuple[str, str]:
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:
        return name, "latest"
    return repository, tag


def registry_auth(host: str, env: Mapping[str, str]) -> dict[str, str] | None:
    """The credentials boxwise's registry client would send to `host`: GitLab's job credentials for
    its own registry, BOXWISE_REGISTRY_USER/PASSWORD for a host BOXWISE_REGISTRY names (the Action's
    GHCR login), the Docker config's; else None, and the engine's own `docker login` applies."""
    from boxwise.image.registry_auth import find_credentials

    found = gitlab_job_credentials(host, env) or find_credentials(host)
    if found is None or not (found.username and found.password):  # an identity token: the engine's
        return None
    return {"username": found.username, "password": found.password}


def fetch_baseline(ref: str | None, env: Mapping[str, str]) -> str | None:
    """Pull a `docker://` baseline that lives in a registry and is not in the engine yet.

    Returns why it could not be pulled (the report then says there is no baseline), else None.
    """
    if not ref or not ref.startswith("docker://"):
        return None
    name = ref.removeprefix("docker://")
    host = registry_host(name)
    if host is None:
        return None
    import docker

    try:
        client = docker.from_env()
    except docker.errors.DockerException as exc:
        return f"{name} could not be pulled (no engine: {type(exc).__name__})"
    try:
        try:
            client.images.get(name)
            return None
        except docker.errors.ImageNotFound:
            pass
        repository, tag = _split_name(name)
        try:
            client.images.pull(repository, tag=tag, auth_config=registry_auth(host, env))
        except docker.errors.APIError as exc:
            return f"{name} could not be pulled ({exc.explanation or exc.status_code})"
        return None
    finally:
        client.close()


def keep_baseline(image_ref: str, target: str, env: Mapping[str, str]) -> str:
    """Keep a built engine image where later merge requests look for their baseline."""
    import docker

    name = image_ref.removeprefix("docker://")
    client = docker.from_env()
    try:
        image = client.images.get(name)
        if target.startswith("docker://"):
            repository, tag = _split_name(target.removeprefix("docker://"))
            image.tag(repository, tag)
            host = registry_host(repository)
            if host is not None:  # a registry name: later merge-request jobs pull it from there
                for line in client.images.push(
                    repository, tag=tag, auth_config=registry_auth(host, env), stream=True, decode=True
                ):
                    if isinstance(line, dict) and line.get("error"):
                        raise UserError(f"{target}: push failed ({line['error']}); log in to the registry")
            return target
        if target.startswith("docker-archive:"):
            path = Path(target.removeprefix("docker-archive:"))
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.name}.partial")
            with partial.open("wb") as handle:
                for chunk in image.save(named=True):
                    handle.write(chunk)
            partial.replace(path)
            return target
    finally:
        client.close()
    raise UserError(
        f"{target}: boxwise ci can keep baselines as docker:// or docker-archive: only; "
        "change [tool.boxwise] baseline or push the image yourself"
    )
