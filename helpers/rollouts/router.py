"""A weighted canary router: which version answers a request, as an NGINX canary Ingress decides it.

A header forces a version (`X-Canary: always` or `never`, NGINX's canary-by-header); otherwise a seeded draw per
request id sends `weight` percent of the requests to the canary. The draw hashes the seed with the request id, so
the same request id always gets the same version: a run is repeatable, and a retried request does not flip.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from helpers.common.schema import SEED

CANARY_HEADER = "x-canary"
"""The header that forces a version, as NGINX's `canary-by-header` (HTTP header names are case-insensitive)."""
ALWAYS, NEVER = "always", "never"


def draw(seed: int, request_id: str) -> float:
    """Return a number in [0, 1) fixed by the seed and the request id (the first 8 bytes of a BLAKE2b hash)."""
    digest = hashlib.blake2b(f"{seed}:{request_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class Route:
    """One model's routing: the stable version, an optional canary with its weight (percent), an optional shadow.

    The shadow receives a copy of every routed request; its answers are logged, never returned.
    """

    stable: str
    canary: str | None = None
    weight: float = 0.0
    shadow: str | None = None
    seed: int = SEED

    def __post_init__(self) -> None:
        if not 0 <= self.weight <= 100:
            raise ValueError(f"weight must be between 0 and 100 percent, got {self.weight}")
        if self.weight and self.canary is None:
            raise ValueError("a weight above 0 needs a canary version")

    def choose(self, request_id: str, header: str | None = None) -> str:
        """Return the version that answers this request."""
        if self.canary is not None and header is not None:
            forced = header.strip().lower()
            if forced == ALWAYS:
                return self.canary
            if forced == NEVER:
                return self.stable
        if self.canary is None or self.weight <= 0:
            return self.stable
        return self.canary if draw(self.seed, request_id) < self.weight / 100 else self.stable

    def versions(self) -> list[str]:
        """Return the versions this route names (stable, canary, shadow), without repeats."""
        return list(dict.fromkeys(v for v in (self.stable, self.canary, self.shadow) if v is not None))

    def promoted(self) -> Route:
        """Return the route after a promotion: the canary becomes the stable version, with all the traffic."""
        if self.canary is None:
            raise ValueError("there is no canary to promote")
        return replace(self, stable=self.canary, canary=None, weight=0.0)

    def rolled_back(self) -> Route:
        """Return the route after a rollback: every request to the stable version again, no canary."""
        return replace(self, canary=None, weight=0.0)

    def as_dict(self) -> dict:
        """Return the route as JSON-ready fields."""
        return {"stable": self.stable, "canary": self.canary, "weight": self.weight, "shadow": self.shadow,
                "seed": self.seed}
