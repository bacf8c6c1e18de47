"""When to ask an HTTP server again, and how long to wait first: one policy, urllib3's `Retry`,
for the registry client and the merge-request comment client.

Both clients keep their own request loop (a registry 401 is answered between attempts, an upload
body is made anew for each, a comment client redirected off its API origin stops), and ask the
policy after each answer worth retrying: the server's `Retry-After` (seconds or an HTTP date)
when it sends one, else 1, 2, 4, 8 … seconds, never more than the client's cap; None once the
retries are spent.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

# Answers worth asking again: too many requests, and the server errors that pass.
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class Retries(Retry):
    """urllib3's Retry with the backoff counted from the first retry (urllib3 waits 0 s before
    it): 1, 2, 4 … seconds times `backoff_factor`, up to `backoff_max`."""

    RETRY_AFTER_STATUS_CODES = frozenset()  # a status is retried when the client says so, not
    # because a Retry-After came with it (urllib3 would also retry a 413 that has one)

    def get_backoff_time(self) -> float:
        if not self.history:
            return 0.0
        return float(min(self.backoff_max, self.backoff_factor * 2 ** (len(self.history) - 1)))


def retries(count: int, wait_cap: float, statuses: Collection[int] = RETRY_STATUS) -> Retries:
    """A policy allowing `count` retries of any method on `statuses`, waiting at most `wait_cap`."""
    return Retries(
        total=count,
        allowed_methods=None,  # every method: the clients decide what is safe to send again
        status_forcelist=statuses,
        backoff_factor=1.0,
        backoff_max=wait_cap,
        raise_on_status=False,
    )


def next_attempt(
    policy: Retries, method: str, url: str, response: Any = None, error: Exception | None = None
) -> tuple[Retries, float] | None:
    """After a failed attempt (an answer worth retrying, or `error`): the policy for the next
    attempt and the seconds to wait before it, or None when the retries are spent."""
    try:
        policy = policy.increment(method, url, error=error)
    except MaxRetryError:
        return None
    wait = None
    if response is not None:
        try:
            wait = policy.get_retry_after(response)
        except InvalidHeader:  # neither seconds nor a date: our own backoff
            wait = None
    if wait is None:
        wait = policy.get_backoff_time()
    return policy, float(min(max(wait, 0.0), policy.backoff_max))
