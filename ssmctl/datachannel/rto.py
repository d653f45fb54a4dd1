"""Retransmission timeout from round-trip samples (protocol.md section 4).

RTTVAR = 3/4 RTTVAR + 1/4 |RTT - s|;  RTT = 7/8 RTT + 1/8 s;  RTO = RTT + max(10 ms,
4 RTTVAR), capped at 1 s. RTT starts at 100 ms and RTTVAR at 0. Times are seconds.
"""

from __future__ import annotations

INITIAL_RTT = 0.100
CLOCK_GRANULARITY = 0.010
MAX_RTO = 1.0


class RetransmissionTimer:
    """Smoothed round-trip time and the retransmission timeout derived from it."""

    def __init__(self, rtt: float = INITIAL_RTT, rttvar: float = 0.0) -> None:
        self.rtt = rtt
        self.rttvar = rttvar

    @property
    def rto(self) -> float:
        """How long an unacknowledged message waits before it is sent again."""
        return min(MAX_RTO, self.rtt + max(CLOCK_GRANULARITY, 4 * self.rttvar))

    def sample(self, seconds: float) -> None:
        """Fold in one round-trip measurement (send -> ack)."""
        seconds = max(0.0, seconds)
        # RTTVAR uses the RTT before this sample, as RFC 6298 and the plugin do.
        self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.rtt - seconds)
        self.rtt = 0.875 * self.rtt + 0.125 * seconds
