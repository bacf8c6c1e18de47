"""The cache image `boxwise ci` gives an app's build, and whether the build may write it.

The cache image is `registry://PREFIX/APP:TAG` (`--cache-tag`; the templates give `boxwise-cache`)
when the image prefix names a registry; with a prefix that is only a local name there is none.
It is written by the pipeline of the default branch only: what a merge request builds is
untrusted, and the next merge request would restore it, so merge requests (and other branches)
read it and never write it — a fork's merge request least of all (forks.py). The default branch
is GitLab's CI_DEFAULT_BRANCH, or BOXWISE_DEFAULT_BRANCH (the GitHub Action sets it); when
neither is known nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CacheImageUse:
    ref: str | None  # registry://..., or None: no cache image
    write: bool
    why: str  # said in the job log: where it is and why it is (not) written


def cache_image_use(
    image_name: str, tag: str | None, env: Mapping[str, str], in_mr: bool, branch: str
) -> CacheImageUse:
    from boxwise.forks import from_fork
    from boxwise.report.baseline import registry_host

    if not tag:
        return CacheImageUse(None, False, "no cache image (no --cache-tag)")
    if registry_host(image_name) is None:
        return CacheImageUse(None, False, f"no cache image: {image_name} names no registry")
    ref = f"registry://{image_name}:{tag}"
    default = env.get("CI_DEFAULT_BRANCH") or env.get("BOXWISE_DEFAULT_BRANCH")
    if in_mr or from_fork(env):
        return CacheImageUse(ref, False, f"cache image {ref}: read only in a merge request")
    if not default:
        return CacheImageUse(ref, False, f"cache image {ref}: read only (the default branch is not known)")
    if branch != default:
        return CacheImageUse(ref, False, f"cache image {ref}: read only on {branch} (written on {default})")
    return CacheImageUse(ref, True, f"cache image {ref}: read and written ({branch} is the default branch)")
