"""Argument parsing only: each subcommand is one call into the module that does the work.

Command modules are imported lazily, so `boxwise detect` (run on every commit) never pays for
the Docker SDK, GitPython or rich's heavy parts.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from boxwise import __version__
from boxwise.errors import CRASH_EXIT_CODE, BoxwiseError, UserError

if TYPE_CHECKING:
    from boxwise.gate import GateFlags
    from boxwise.report.options import ArtifactPaths, PostingFlags

# subcommand -> "module:function"; the function takes its options object (made from the parsed
# args by OPTIONS below) and returns an exit code.
COMMANDS: dict[str, str] = {
    "detect": "boxwise.lint.command:run_detect",
    "build": "boxwise.builder.command:run_build",
    "buildpacks": "boxwise.builder.listing:run_buildpacks",
    "rebase": "boxwise.builder.rebase:run_rebase",
    "inspect": "boxwise.analyze.command:run_inspect",
    "gate": "boxwise.gate:run_gate",
    "diff": "boxwise.analyze.diff:run_diff",
    "report": "boxwise.report.command:run_report",
    "ci": "boxwise.ci:run_ci",
    "plan": "boxwise.plan:run_plan",
}

GATE_FLAGS = ("lowestEfficiency", "highestWastedBytes", "highestUserWastedPercent", "highestImageBytes")


def _add_detect(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="a repo, an app folder or changed files")
    p.add_argument("--format", choices=["text", "json", "codequality", "sarif", "github"], default="text")
    p.add_argument("--output", metavar="FILE", help="write the report here instead of stdout")


def _add_pull_policy(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--pull-policy",
        choices=["if-not-present", "always", "never"],
        default=None,
        help="when to pull the base and build images, as pack's (default: [tool.boxwise.build] "
        "pull-policy, else if-not-present)",
    )


def _add_build(p: argparse.ArgumentParser) -> None:
    p.add_argument("app", metavar="APP", nargs="?", default=".", help="the app folder")
    p.add_argument(
        "--base",
        metavar="REF",
        help="the run base image: an image name (pulled when missing; `{python}` stands for the version "
        "the app asks for), or docker-archive:PATH / oci:PATH / registry://REF (default: "
        "buildpacks/builder.toml's python:3.X-slim for the app's Python version)",
    )
    p.add_argument("--run-image", metavar="REF", help="the image the exported layers go on (default --base)")
    p.add_argument("--builder", metavar="REF", help="the image the buildpacks run in (default --base)")
    p.add_argument("--tag", metavar="NAME", help="the image name to give the result (default boxwise/APP)")
    _add_pull_policy(p)
    p.add_argument(
        "--output",
        metavar="WHERE",
        default="docker",
        help="docker (load into the engine, the default) | docker-archive:PATH | oci:PATH | "
        "registry://HOST[:PORT]/REPO[:TAG] (pushed with no engine; credentials as docker login)",
    )
    p.add_argument("--cache", metavar="DIR", help="layer cache folder (default: $XDG_CACHE_HOME/boxwise)")
    p.add_argument(
        "--network",
        choices=["host", "bridge", "none"],
        default=None,
        help="the build container's network (default host)",
    )
    p.add_argument(
        "--ca-cert",
        metavar="FILE",
        help="CA bundle given to the build only, never exported (default: $SSL_CERT_FILE, $PIP_CERT "
        "or $REQUESTS_CA_BUNDLE)",
    )
    p.add_argument(
        "--runner",
        choices=["docker", "local"],
        default="docker",
        help="docker: buildpacks in a container of the build image; local: in place, no engine needed",
    )
    p.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start the image with PORT and wait until its web process answers HTTP; fail the build "
        "when it exits or never answers (default: [tool.boxwise.build] check, else off; on in `ci`)",
    )
    p.add_argument("--check-timeout", metavar="SECONDS", type=float, help="how long the check waits (30)")
    # pack's vocabulary
    p.add_argument(
        "--env",
        action="append",
        metavar="NAME[=VALUE]",
        help="a variable for the build only (repeatable; NAME alone: its value here); never in the image",
    )
    p.add_argument(
        "--env-file", metavar="FILE", help="NAME=VALUE lines for the build only, as pack reads them"
    )
    p.add_argument(
        "--publish", action="store_true", help="push to the registry --tag names (= --output registry://TAG)"
    )
    p.add_argument("--clear-cache", action="store_true", help="rebuild every layer, ignoring the cache")
    p.add_argument(
        "--previous-image",
        metavar="REF",
        help="an earlier image of the app (docker://, registry://, archives): its layers serve equal keys",
    )
    p.add_argument(
        "--cache-image",
        metavar="registry://REF",
        help="keep the layer cache in this registry image: read before the build, written after it",
    )
    p.add_argument("--default-process", metavar="TYPE", help="the process the image starts (default: web)")
    p.add_argument("--check-path", metavar="PATH", help="the path the check asks for (default /)")


def _add_rebase(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE", help="docker://NAME (or a bare engine name) or registry://REF")
    p.add_argument(
        "--run-image",
        metavar="REF",
        required=True,
        help="the new base: an engine image name, or registry://REF, docker-archive:PATH, oci:PATH",
    )
    p.add_argument("--tag", metavar="NAME", help="where the result goes (default: IMAGE itself)")
    p.add_argument("--cache", metavar="DIR", help="layer cache folder (default: $XDG_CACHE_HOME/boxwise)")
    _add_pull_policy(p)


def _add_image_ref(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "ref",
        metavar="REF",
        help="docker://NAME, docker-archive:PATH, oci:PATH, registry://REF, or a bare path/name",
    )


def _add_inspect(p: argparse.ArgumentParser) -> None:
    _add_image_ref(p)
    p.add_argument("--format", choices=["text", "json"], default="text")


def _add_gate_rules(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ci-config", metavar="FILE", help="a .dive-ci rules file (default: the repo root's)")
    for flag in GATE_FLAGS:
        p.add_argument(f"--{flag}", metavar="VALUE", default=None)
    p.add_argument("--accounting", choices=["dive", "exact"], default=None)


def _add_gate(p: argparse.ArgumentParser) -> None:
    _add_image_ref(p)
    _add_gate_rules(p)
    p.add_argument("--format", choices=["text", "json", "sarif"], default="text")


def _add_diff(p: argparse.ArgumentParser) -> None:
    p.add_argument("baseline", metavar="BASELINE")
    p.add_argument("new", metavar="NEW")
    p.add_argument("--format", choices=["text", "json"], default="text")


def _add_artifacts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--junit", metavar="FILE")
    p.add_argument("--codequality", metavar="FILE")
    p.add_argument("--metrics", metavar="FILE")
    p.add_argument("--json", metavar="FILE", dest="json_file")
    p.add_argument("--markdown", metavar="FILE", help="the markdown report (every app), as in the summary")
    p.add_argument(
        "--html", metavar="FILE", help="a self-contained HTML report (layers, files, dependencies)"
    )


def _add_posting(p: argparse.ArgumentParser, default: str) -> None:
    # default None: then [tool.boxwise.report] post/strict/post-when, else the command's default
    p.add_argument(
        "--post",
        choices=["auto", "gitlab", "github", "none", "summary"],
        default=None,
        help=f"post the report as the app's one comment (default: [tool.boxwise.report] post, else "
        f"{default}); summary: job summary and artifacts only, as a fork's merge request gets",
    )
    p.add_argument(
        "--post-when",
        choices=["always", "changed", "failed"],
        default=None,
        help="create a comment always, only when the image changed, or only when it failed "
        "(an existing comment is always updated)",
    )
    p.add_argument("--strict", action="store_true", default=None, help="fail when a comment cannot be posted")


def _add_report(p: argparse.ArgumentParser) -> None:
    _add_image_ref(p)
    p.add_argument(
        "--baseline", metavar="REF", help="the image to compare with (default: [tool.boxwise] baseline)"
    )
    p.add_argument("--app", metavar="NAME", help="the app the image was built from")
    _add_posting(p, "none")
    p.add_argument("--format", choices=["text", "markdown"], default="text")
    _add_gate_rules(p)
    _add_artifacts(p)


def _add_ci(p: argparse.ArgumentParser) -> None:
    p.add_argument("--apps", nargs="+", metavar="APP", help="name the apps instead of asking git")
    p.add_argument("--changed-since", metavar="REF", help="compare HEAD with this ref")
    p.add_argument("--base", metavar="REF", help="the run base image (default: [tool.boxwise.build] base)")
    p.add_argument("--builder", metavar="REF", help="the image the buildpacks run in (default: --base)")
    p.add_argument("--tag-prefix", metavar="PREFIX", help="images are PREFIX/APP (default: boxwise)")
    p.add_argument(
        "--cache-tag",
        metavar="TAG",
        help="keep each app's layer cache as the image PREFIX/APP:TAG when PREFIX is a registry "
        "(written on the default branch only, read in merge requests)",
    )
    _add_pull_policy(p)
    _add_posting(p, "auto")
    p.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start each new image with PORT and gate on its answer (default on; [tool.boxwise.build] check)",
    )
    _add_gate_rules(p)
    _add_artifacts(p)


def _add_buildpacks(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["text", "json"], default="text")


def _add_plan(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["json", "gitlab-child", "github-matrix"], default="json")
    p.add_argument("--apps", nargs="+", metavar="APP", help="name the apps instead of asking git")
    p.add_argument("--changed-since", metavar="REF")
    p.add_argument("--output", metavar="FILE")


# subcommand -> (its line in `boxwise --help`, what adds its arguments)
SUBCOMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "detect": ("which buildpacks detect each app, and lint its files", _add_detect),
    "build": ("build an app into an image with the boxwise buildpacks", _add_build),
    "buildpacks": ("the buildpacks, their versions and the detection groups", _add_buildpacks),
    "rebase": ("put a built image on a patched run image without rebuilding", _add_rebase),
    "inspect": ("size, layers and dive-compatible efficiency of an image", _add_inspect),
    "gate": ("pass or fail an image on dive's CI rules", _add_gate),
    "diff": ("what changed between a baseline image and a new one", _add_diff),
    "report": ("the merge-request report of an image, posted as one comment", _add_report),
    "ci": ("detect, build, gate and report every app a change touches", _add_ci),
    "plan": ("the apps a change touches, as a child pipeline or a job matrix", _add_plan),
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own, its width found as shutil.get_terminal_size finds it, without importing
    shutil (and bz2 and lzma with it): argparse makes a formatter for every argument it is given,
    and the first one imported shutil, 1.7 ms of every `boxwise` start."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


def _columns() -> int:
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command`, the other subcommands are only named (as `--help` lists
    them): a run parses one subcommand, and each argument added costs a formatter."""
    parser = argparse.ArgumentParser(
        prog="boxwise",
        description="Lean container images for Python apps: detect, build, inspect, gate, report.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"boxwise {__version__}")
    parser.add_argument("-C", dest="chdir", metavar="DIR", help="run as if started in DIR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (line, add) in SUBCOMMANDS.items():
        subparser = sub.add_parser(name, help=line, formatter_class=_HelpFormatter)
        if command in (None, name):
            add(subparser)
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` runs (its first word that is not an option or -C's folder), if any."""
    words = iter(argv)
    for word in words:
        if word == "-C":
            next(words, None)
        elif word == "--":
            break
        elif not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


# --- parsed args -> each command's options object: the one place a Namespace is read ---------------
# (the options classes are imported here, when the command runs: `detect` never loads them)


def _gate_flags(args: argparse.Namespace) -> GateFlags:
    from boxwise.gate import GateFlags

    thresholds = {name: getattr(args, name) for name in GATE_FLAGS if getattr(args, name) is not None}
    return GateFlags(thresholds, args.accounting, args.ci_config)


def _posting(args: argparse.Namespace) -> PostingFlags:
    from boxwise.report.options import PostingFlags

    return PostingFlags(args.post, args.strict, args.post_when)


def _artifacts(args: argparse.Namespace) -> ArtifactPaths:
    from boxwise.report.options import ArtifactPaths

    return ArtifactPaths(args.junit, args.codequality, args.metrics, args.json_file, args.markdown, args.html)


def _build_options(args: argparse.Namespace) -> Any:
    from boxwise.builder.options import BuildFlags

    return BuildFlags(
        app=args.app,
        base=args.base,
        run_image=args.run_image,
        builder=args.builder,
        tag=args.tag,
        pull_policy=args.pull_policy,
        output=args.output,
        cache=args.cache,
        network=args.network,
        ca_cert=args.ca_cert,
        runner=args.runner,
        check=args.check,
        check_timeout=args.check_timeout,
        check_path=args.check_path,
        env=tuple(args.env or ()),
        env_file=args.env_file,
        publish=args.publish,
        clear_cache=args.clear_cache,
        previous_image=args.previous_image,
        cache_image=args.cache_image,
        default_process=args.default_process,
    )


def _inspect_options(args: argparse.Namespace) -> Any:
    from boxwise.analyze.command import InspectOptions

    return InspectOptions(args.ref, args.format)


def _gate_options(args: argparse.Namespace) -> Any:
    from boxwise.gate import GateOptions

    return GateOptions(args.ref, args.format, _gate_flags(args))


def _diff_options(args: argparse.Namespace) -> Any:
    from boxwise.analyze.diff import DiffOptions

    return DiffOptions(args.baseline, args.new, args.format)


def _report_options(args: argparse.Namespace) -> Any:
    from boxwise.report.options import ReportOptions

    return ReportOptions(
        ref=args.ref,
        baseline=args.baseline,
        app=args.app,
        format=args.format,
        posting=_posting(args),
        gate=_gate_flags(args),
        artifacts=_artifacts(args),
    )


def _ci_options(args: argparse.Namespace) -> Any:
    from boxwise.ci import CiOptions

    return CiOptions(
        apps=tuple(args.apps or ()),
        changed_since=args.changed_since,
        base=args.base,
        builder=args.builder,
        tag_prefix=args.tag_prefix,
        cache_tag=args.cache_tag,
        pull_policy=args.pull_policy,
        check=args.check,
        posting=_posting(args),
        gate=_gate_flags(args),
        artifacts=_artifacts(args),
    )


def _detect_options(args: argparse.Namespace) -> Any:
    from boxwise.lint.command import DetectOptions

    return DetectOptions(tuple(args.paths or ()), args.format, args.output)


def _plan_options(args: argparse.Namespace) -> Any:
    from boxwise.plan import PlanOptions

    return PlanOptions(tuple(args.apps) if args.apps else None, args.changed_since, args.format, args.output)


def _buildpacks_options(args: argparse.Namespace) -> Any:
    from boxwise.builder.listing import BuildpacksOptions

    return BuildpacksOptions(args.format)


def _rebase_options(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from boxwise.builder.rebase import RebaseOptions
    from boxwise.image.cache import cache_root

    return RebaseOptions(
        image=str(args.image),
        run_image=str(args.run_image),
        tag=args.tag,
        cache=Path(args.cache) if args.cache else cache_root(),
        pull=args.pull_policy or "if-not-present",
    )


OPTIONS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "detect": _detect_options,
    "plan": _plan_options,
    "buildpacks": _buildpacks_options,
    "rebase": _rebase_options,
    "build": _build_options,
    "inspect": _inspect_options,
    "gate": _gate_options,
    "diff": _diff_options,
    "report": _report_options,
    "ci": _ci_options,
}


def _load(command: str) -> Callable[[argparse.Namespace], int]:
    """The subcommand's function, given the parsed args made into its options object.
    Every COMMANDS entry names a function that exists and has a converter (tests/test_cli.py)."""
    module_name, _, func_name = COMMANDS[command].partition(":")
    function: Callable[[Any], int] = getattr(importlib.import_module(module_name), func_name)
    convert = OPTIONS[command]
    return lambda args: function(convert(args))


def run() -> None:
    """The `boxwise` command and `python -m boxwise`: main(), then the process ends."""
    code = main()
    # All this process made dies with it. Frozen, its objects are left out of the cyclic
    # collector's passes at interpreter shutdown, which would walk every row and index entry a
    # big image gave only to find no cycle (8 ms of a cold inspect of the s2i image). Files are
    # closed by their own `with` blocks; weakref.finalize callbacks still run at exit. Not in
    # main(): tests call it in their own long-lived process.
    gc.freeze()
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(command_named(argv))
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    for stream in (sys.stdout, sys.stderr):
        # a file name from an image may be no UTF-8 (surrogate escapes): shown as \udcff, no traceback
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    try:
        return _run(args)
    except BoxwiseError as exc:
        from boxwise.printable import printable

        print(f"boxwise: error: {printable(exc)}", file=sys.stderr)  # names in it come from the MR
        for line in exc.details:
            print(f"  | {printable(line)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("boxwise: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line here, the traceback in the crash log
        from boxwise import crashlog

        crashlog.report(exc, argv)
        return CRASH_EXIT_CODE


def _run(args: argparse.Namespace) -> int:
    if args.chdir:
        try:
            os.chdir(args.chdir)
        except OSError as exc:
            raise UserError(f"-C {args.chdir}: cannot go there ({exc.strerror}); give a folder") from None
    return _load(args.command)(args)
