"""The hostile tests reuse the report area's fake GitLab/GitHub API and fixed analyses."""

from tests.report.conftest import analyses, fake_api  # noqa: F401 - fixtures, registered by import
