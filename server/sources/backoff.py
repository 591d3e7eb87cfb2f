"""How long a source waits before reconnecting: policies as data, and a running backoff."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How long to wait before reconnecting, by kind of failure, in seconds.

    Network errors (a drop, a refused connection, a stall) wait `network_start`, then
    `network_step` more each attempt up to `network_max`. HTTP errors wait `http_start`,
    doubling up to `http_max`. A rate limit waits at least `rate_limit_start`, doubling up to
    `http_max`; with `honour_retry_after` a server's Retry-After is waited when longer (up to
    `retry_after_max`).
    """

    network_step: float
    network_max: float
    http_start: float
    http_max: float
    rate_limit_start: float
    network_start: float = 0.0
    honour_retry_after: bool = True
    retry_after_max: float = 3600.0


# X's documented reconnect waits (docs.x.com, "Handling disconnections" of the filtered
# stream): network errors back off linearly by 250 ms up to 16 s, HTTP errors exponentially
# from 5 s up to 320 s, HTTP 429 exponentially from 1 minute.
X_BACKOFF = BackoffPolicy(network_step=0.25, network_max=16.0, http_start=5.0, http_max=320.0,
                          rate_limit_start=60.0)


class Backoff:
    """A running `BackoffPolicy`: each call gives the next nominal wait; `reset` forgets.
    `scale` multiplies the waits actually slept (tests shrink it); the nominal waits do not
    change."""

    def __init__(self, policy: BackoffPolicy = X_BACKOFF, scale: float = 1.0) -> None:
        self.policy = policy
        self.scale = scale
        self.reset()

    def reset(self) -> None:
        """Forget past failures."""
        self._network: float | None = None
        self._http: float | None = None

    def network(self) -> float:
        """The nominal wait after a network error, a drop or a stall."""
        p = self.policy
        self._network = p.network_start if self._network is None else (
            self._network + p.network_step)
        self._network = min(self._network, p.network_max)
        return self._network

    def http_error(self) -> float:
        """The nominal wait after an HTTP error other than a rate limit."""
        p = self.policy
        self._http = p.http_start if self._http is None else self._http * 2
        self._http = min(self._http, p.http_max)
        return self._http

    def rate_limited(self, retry_after: float | None = None) -> float:
        """The nominal wait after a rate limit; a longer Retry-After wins when honoured."""
        p = self.policy
        current = p.rate_limit_start if self._http is None else self._http * 2
        self._http = min(max(current, p.rate_limit_start), p.http_max)
        if retry_after is not None and p.honour_retry_after:
            return max(self._http, min(retry_after, p.retry_after_max))
        return self._http

    def after(self, kind: str, retry_after: float | None = None) -> float:
        """The nominal wait after a failure of `kind`: network, http or rate_limited."""
        if kind == RATE_LIMITED:
            return self.rate_limited(retry_after)
        wait = self.http_error() if kind == HTTP else self.network()
        if retry_after is not None and self.policy.honour_retry_after:
            wait = max(wait, min(retry_after, self.policy.retry_after_max))
        return wait


NETWORK = "network"
HTTP = "http"
RATE_LIMITED = "rate_limited"
