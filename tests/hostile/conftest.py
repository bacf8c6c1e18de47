"""The hostile tests reuse the report area's fake GitLab/GitHub API and fixed analyses."""

from tests.builder.conftest import base_image  # noqa: F401 - the real base image, for builds
from tests.builder.test_secrets import private_index  # noqa: F401 - a package index that records auth
from tests.report.conftest import analyses, fake_api  # noqa: F401 - fixtures, registered by import
