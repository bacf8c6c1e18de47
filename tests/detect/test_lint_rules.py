"""Every lint rule, on real files in real git repos, as `boxwise detect --format json` reports it."""

from __future__ import annotations

from .helpers import detect_json

PROCFILE = "web: python -m api\n"
PINNED = "click==8.1.7\n"


def test_requirements_rules(make_git_repo) -> None:
    requirements = (
        "# comment line\n"
        "flask==2.0.1  # trailing comment\n"  # 2
        "requests>=2.0\n"  # 3: range only
        "rich\n"  # 4: no version
        "--extra-index-url https://deploy:s3cr3t-T0KEN@pypi.example.com/simple\n"  # 5
        "--index-url https://${PIP_USER}:${PIP_TOKEN}@pypi.example.com/simple\n"  # 6: env refs are fine
        "-r base.txt\n"  # 7
        "-c constraints.txt\n"  # 8
        "uvicorn[standard] == 0.30.1 ; python_version >= '3.10' \\\n"  # 9, continued
        "    --hash=sha256:0123abcd\n"
        "this is not valid\n"  # 11
        "--frobnicate\n"  # 12
        "-r missing.txt\n"  # 13
        "git+ssh://git@github.com/org/repo.git@v1#egg=repo\n"  # 14: ssh user, no secret
        "pkg @ https://ghp_abcdefTOKEN@github.com/org/pkg/archive/v1.zip\n"  # 15
        "-e ./libs/local\n"  # 16
        "attrs==23.1.0 ; python_version < '3.11'\n"  # 17
        "attrs==23.2.0 ; python_version >= '3.11'\n"  # 18: other marker: no conflict
        "-r ../shared.txt\n"  # 19: outside the app
    )
    repo = make_git_repo(
        {
            "apps/api/requirements.txt": requirements,
            "apps/api/base.txt": "flask==3.0.0\n-r nested/more.txt\n",
            "apps/api/nested/more.txt": "-r ../base.txt\n",  # cycle back to base.txt
            "apps/api/constraints.txt": "rich==13.7.1\n",  # pins rich: not unpinned then
            "apps/api/Procfile": PROCFILE,
            "apps/shared.txt": PINNED,
        }
    )
    report = detect_json(repo)
    req = "apps/api/requirements.txt"
    assert report.rules(req) == (
        [
            (req, 3, "unpinned"),
            (req, 5, "url-credentials"),
            (req, 11, "requirements-syntax"),
            (req, 12, "requirements-syntax"),
            (req, 13, "include-missing"),
            (req, 15, "url-credentials"),
            (req, 19, "include-outside-app"),
        ]
    )
    assert report.rules("apps/api/base.txt") == [("apps/api/base.txt", 1, "conflicting-pins")]
    assert report.rules("apps/api/nested/more.txt") == [("apps/api/nested/more.txt", 1, "include-cycle")]
    assert report.code == 1
    secret = [f for f in report.data["findings"] if f["rule"] == "url-credentials"]
    for item in secret:
        assert "s3cr3t" not in str(item) and "ghp_" not in str(item) and "deploy" not in str(item)
    assert "pypi.example.com" in secret[0]["message"]
    assert "flask" in report.finding("conflicting-pins")["message"]
    assert "--frobnicate" in next(f for f in report.data["findings"] if f["line"] == 12)["message"]
    assert "requests" in report.finding("unpinned")["message"]
    assert report.finding("unpinned")["fix"].startswith("pin it: requests==")


def test_pyproject_rules(make_git_repo) -> None:
    repo = make_git_repo(
        {
            "apps/ok/pyproject.toml": (
                '[project]\nname = "ok"\ndynamic = ["version"]\ndependencies = ["click>=8"]\n'
                '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
            ),
            "apps/ok/Procfile": PROCFILE,
            "apps/bad/pyproject.toml": (
                '[project]\ndescription = "no name, no version"\n'
                'dependencies = [\n  "click>=8",\n  "not a requirement!",\n]\n'
            ),
            "apps/bad/Procfile": PROCFILE,
            "apps/broken/pyproject.toml": '[project]\nname = "x"\nversion = "1"\nthis is = not toml\n',
            "apps/broken/Procfile": PROCFILE,
        }
    )
    report = detect_json(repo)
    assert report.rules("apps/ok/pyproject.toml") == []
    assert report.rules("apps/bad/pyproject.toml") == [
        ("apps/bad/pyproject.toml", None, "build-system"),
        ("apps/bad/pyproject.toml", 1, "project-name"),
        ("apps/bad/pyproject.toml", 1, "project-version"),
        ("apps/bad/pyproject.toml", 5, "dependency-syntax"),
    ]
    toml = report.finding("toml-syntax")
    assert (toml["path"], toml["line"]) == ("apps/broken/pyproject.toml", 4)
    assert "line 4, column 6" in toml["message"]
    assert report.code == 1


def test_procfile_rules(make_git_repo) -> None:
    repo = make_git_repo(
        {
            "apps/bad/Procfile": (
                "# processes\n"
                "web: gunicorn app:app\n"
                "\n"
                "worker python w.py\n"  # 4: no colon
                "web: python other.py\n"  # 5: duplicate
                "beat:\n"  # 6: empty command
                "bad name: x\n"  # 7: bad name
            ),
            "apps/noweb/Procfile": "worker: python -m jobs\n",
            "apps/fallback/Procfile": "worker: python -m jobs\n",
            "apps/fallback/app.py": "print('hi')\n",
            "apps/none/requirements.txt": PINNED,
        }
    )
    report = detect_json(repo)
    assert report.rules("apps/bad/Procfile") == [
        ("apps/bad/Procfile", 4, "procfile-syntax"),
        ("apps/bad/Procfile", 5, "procfile-duplicate"),
        ("apps/bad/Procfile", 6, "procfile-empty-command"),
        ("apps/bad/Procfile", 7, "procfile-syntax"),
    ]
    assert report.rules("apps/noweb/Procfile") == [("apps/noweb/Procfile", None, "procfile-no-web")]
    # with a Procfile, its first line is the default process, whatever else the app holds (as the build does)
    assert report.rules("apps/fallback/Procfile") == [("apps/fallback/Procfile", None, "procfile-no-web")]
    assert report.rules("apps/none") == [("apps/none", None, "no-process")]


def test_app_contents_that_would_land_in_the_image(make_git_repo) -> None:
    files = {
        "apps/api/requirements.txt": PINNED,
        "apps/api/Procfile": PROCFILE,
        "apps/api/.env": "TOKEN=x\n",
        "apps/api/.env.example": "TOKEN=\n",  # a template: fine
        "apps/api/certs/server.pem": "key\n",
        "apps/api/deploy/id_rsa": "key\n",
        "apps/api/deploy/id_rsa.pub": "public\n",  # a public key: fine
        "apps/api/node_modules/.env": "never walked\n",
        "apps/clean/requirements.txt": PINNED,
        "apps/clean/Procfile": PROCFILE,
        "apps/clean/.env": "TOKEN=x\n",
        "apps/clean/certs/server.pem": "key\n",
        "apps/clean/.dockerignore": ".env\n**/*.pem\n",
        "apps/clean/.boxwiseignore": ".git\n",
    }
    repo = make_git_repo(files)
    (repo / "apps/api/vendored/.git").mkdir(parents=True)  # never shipped: nothing to say
    (repo / "apps/api/vendored/.git/id_rsa").write_text("inside .git: never shipped either\n")
    (repo / "apps/clean/.git").mkdir()
    report = detect_json(repo)
    assert report.rules() == [
        ("apps/api/.env", None, "env-file"),
        ("apps/api/certs/server.pem", None, "private-key"),
        ("apps/api/deploy/id_rsa", None, "private-key"),
    ]
    assert report.code == 0  # warnings only
    assert ".dockerignore" in report.finding("env-file")["fix"]


def test_config_can_disable_rules_and_warns_about_unknown_keys_and_rules(make_git_repo) -> None:
    config = (
        "[tool.boxwise]\nimage-prefx = 'typo'\n"
        "[tool.boxwise.lint]\ndisable = ['unpinned', 'procfile-syntax', 'no-such-rule']\n"
    )
    repo = make_git_repo(
        {
            "pyproject.toml": config,
            "apps/api/requirements.txt": "requests>=2\n",
            "apps/api/Procfile": "web: x\nbroken line\n",
        }
    )
    report = detect_json(repo)
    assert report.rules() == []
    assert report.code == 0
    assert "unknown key 'tool.boxwise.image-prefx'" in report.stderr
    assert "unknown lint rule 'no-such-rule'" in report.stderr


def test_pins_compare_by_normalised_name_version_and_markers(make_git_repo) -> None:
    requirements = (
        "Django==4.2.0\n"
        "django==4.2\n"  # the same version written shorter: no conflict
        "zope.interface==6.0\n"
        "zope-interface==6.1\n"  # the same project (PEP 503 name), another version
        "numpy==1.26.4 ; python_version >= '3.9'\n"
        "numpy==1.24.4 ; python_version < '3.9'\n"  # other markers: both can stand
    )
    repo = make_git_repo({"apps/a/requirements.txt": requirements, "apps/a/Procfile": PROCFILE})
    report = detect_json(repo)
    assert report.rules() == [("apps/a/requirements.txt", 4, "conflicting-pins")]
    assert "zope-interface is pinned to 6.1 here and to 6.0" in report.finding("conflicting-pins")["message"]


def test_a_pyproject_without_a_project_table(make_git_repo) -> None:
    pyproject = '[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n'
    repo = make_git_repo({"apps/a/pyproject.toml": pyproject, "apps/a/Procfile": PROCFILE})
    report = detect_json(repo)
    assert report.rules() == [("apps/a/pyproject.toml", None, "project-name")]
    assert "no [project] table" in report.finding("project-name")["message"]


def test_credentials_are_found_in_every_file_and_in_comments_never_repeated(make_git_repo) -> None:
    repo = make_git_repo(
        {
            "apps/a/requirements.txt": "# old: --index-url https://me:hunter2@pypi.corp.example/simple\nx==1\n",
            "apps/a/Procfile": "web: app --db postgres://app:hunter2@db.internal/app\n",
            "apps/a/pyproject.toml": (
                '[project]\nname = "a"\nversion = "1"\n'
                'dependencies = ["lib @ https://oauth2:hunter2@git.example/lib.zip"]\n'
                "[build-system]\nrequires = []\n"
            ),
            "apps/b/Procfile": "web: app --db ${DATABASE_URL} --cache redis://${REDIS_USER}:${REDIS_PASSWORD}@r/0\n",
        }
    )
    report = detect_json(repo)
    assert report.rules() == [
        ("apps/a/Procfile", 1, "url-credentials"),
        ("apps/a/pyproject.toml", 4, "url-credentials"),
        ("apps/a/requirements.txt", 1, "url-credentials"),
    ]
    assert "hunter2" not in str(report.data)
    assert "postgres://****@db.internal/" in report.finding("url-credentials")["message"]


def test_dev_and_test_requirements_files_are_linted_but_not_held_to_pins(make_git_repo) -> None:
    repo = make_git_repo(
        {
            "apps/a/requirements.txt": "click==8.1.7\n",
            "apps/a/requirements-dev.txt": "-r requirements.txt\npytest\nclick==8.0.0\nnot valid!\n",
            "apps/a/requirements/test.txt": "--index-url https://u:tok@pypi.example/simple\n",
            "apps/a/Procfile": PROCFILE,
        }
    )
    report = detect_json(repo)
    assert report.rules() == [
        ("apps/a/requirements-dev.txt", 3, "conflicting-pins"),
        ("apps/a/requirements-dev.txt", 4, "requirements-syntax"),
        ("apps/a/requirements/test.txt", 1, "url-credentials"),
    ]  # `pytest` unpinned is fine: dev requirements never reach the image


def test_a_committed_virtual_environment_is_an_error_and_never_shipped(make_git_repo) -> None:
    repo = make_git_repo(
        {
            "apps/api/requirements.txt": PINNED,
            "apps/api/Procfile": PROCFILE,
            "apps/api/.venv/pyvenv.cfg": "home = /usr/bin\n",
            "apps/api/.venv/lib/python3.11/site-packages/.env": "TOKEN=x\n",
        }
    )
    report = detect_json(repo)
    assert report.rules() == [("apps/api/.venv", None, "venv-dir")]
    assert report.code == 1
    assert "git rm -r --cached .venv" in report.finding("venv-dir")["fix"]


def test_a_utf16_requirements_file_is_read_as_pip_reads_it(make_git_repo) -> None:
    """Windows editors save UTF-16 with a byte-order mark; pip reads it, so lint does too."""
    repo = make_git_repo(
        {
            "apps/api/requirements.txt": "click==8.1.7\nrequests\n".encode("utf-16"),
            "apps/api/Procfile": PROCFILE,
        }
    )
    report = detect_json(repo)
    assert report.rules() == [("apps/api/requirements.txt", 2, "unpinned")]
