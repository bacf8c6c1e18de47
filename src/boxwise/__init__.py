"""boxwise: lean container images for Python apps, built with Cloud Native Buildpacks."""

__version__ = "0.1.0"
