"""A seeded SplitMix64 generator shared by the Python and Cython paths.

Both paths must draw the same numbers in the same order so that their region
histories are identical; Python's `random` cannot be reproduced in C, so the
monitor uses this generator. Its state lives in a one-element array('Q') that
the fast path advances in place."""
from array import array

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix64(z: int) -> int:
    """SplitMix64's output function (also used as a hash by the simulator)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class Rng:
    def __init__(self, seed: int) -> None:
        self.state = array("Q", [seed & MASK64])

    def next64(self) -> int:
        s = (self.state[0] + GOLDEN) & MASK64
        self.state[0] = s
        return mix64(s)

    def below(self, n: int) -> int:
        """A number in [0, n); the modulo bias is below 2**-40 for n < 2**24 pages."""
        return self.next64() % n

    def between(self, low: int, high: int) -> int:
        """damon_rand(low, high): a number in [low, high)."""
        return low + self.below(high - low)
