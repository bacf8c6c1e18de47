"""What the corpus run names its images and containers by (its cleanup removes only these)."""

PREFIX = "boxwise-test-corpus"
