"""A local library the app installs from a path source."""

__version__ = "1.0.0"


def hello() -> str:
    return "hello from greet"
