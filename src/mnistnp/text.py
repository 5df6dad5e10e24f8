"""Words for what mnistnp prints: counts with the right plural, durations a person reads."""

from __future__ import annotations


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 epoch', '2 epochs', '8,600 iterations'; ``many`` for an irregular plural."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def duration(seconds: float) -> str:
    """'40 s', '4.6 min', '1.2 h': rounded as a person would say it, not to the millisecond."""
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
