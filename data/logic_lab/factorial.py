"""Factorial, two ways: the recursive definition and the loop that avoids deep recursion."""


def factorial_recursive(n: int) -> int:
    """n! by its definition: n * (n-1)!, with 0! = 1."""
    if n < 0:
        raise ValueError("factorial is undefined for negative numbers")
    if n <= 1:
        return 1
    return n * factorial_recursive(n - 1)


def factorial_iterative(n: int) -> int:
    """n! with a loop: no recursion limit, constant stack."""
    if n < 0:
        raise ValueError("factorial is undefined for negative numbers")
    result = 1
    for k in range(2, n + 1):
        result *= k
    return result


class MemoFactorial:
    """Remembers every factorial it has computed, so repeated calls cost one lookup."""

    def __init__(self) -> None:
        self.cache = {0: 1, 1: 1}

    def __call__(self, n: int) -> int:
        if n not in self.cache:
            self.cache[n] = n * self(n - 1)
        return self.cache[n]
