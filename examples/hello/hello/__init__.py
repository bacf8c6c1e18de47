"""A tiny web app: the example boxwise builds into an image."""
