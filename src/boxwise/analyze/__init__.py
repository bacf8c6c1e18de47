"""analyze stage of boxwise (see docs/design.md).

Also home to `go_sort`: dive orders its inefficient-file list with Go's `sort.Sort`, which is not
stable above 12 items; reproducing Go's algorithm (pattern-defeating quicksort, as Go 1.19+ has
it) is the only way to list tied files in dive's order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_INSERTION_MAX = 12
_NINTHER_MIN = 50
_MAX_SWAPS = 4 * 3
_INCREASING, _DECREASING, _UNKNOWN = 1, 2, 0
_MASK64 = (1 << 64) - 1


def go_sort(items: list[Any], key: Callable[[Any], Any]) -> None:
    """Sort `items` in place ascending by `key` in exactly the order Go's `sort.Sort` leaves them."""
    keys = [key(item) for item in items]
    if len(set(keys)) == len(keys):
        items.sort(key=key)  # no ties: every correct sort gives Go's order, and this one is in C
        return
    sorter = _GoSort([*zip(keys, items, strict=True)])
    sorter.pdqsort(0, len(items), len(items).bit_length())
    items[:] = [item for _, item in sorter.data]


class _GoSort:
    """Go's pdqsort over (key, item) pairs; `data[i][0] < data[j][0]` is Go's `Less(i, j)`.

    The comparisons and swaps are written out in the loops (not as method calls): this runs on
    thousands of tied rows for a big image.
    """

    def __init__(self, data: list[tuple[Any, Any]]) -> None:
        self.data = data

    def less(self, i: int, j: int) -> bool:
        return self.data[i][0] < self.data[j][0]

    def swap(self, i: int, j: int) -> None:
        data = self.data
        data[i], data[j] = data[j], data[i]

    def insertion_sort(self, a: int, b: int) -> None:
        data = self.data
        for i in range(a + 1, b):
            j = i
            while j > a and data[j][0] < data[j - 1][0]:
                data[j], data[j - 1] = data[j - 1], data[j]
                j -= 1

    def sift_down(self, lo: int, hi: int, first: int) -> None:
        data = self.data
        root = lo
        while True:
            child = 2 * root + 1
            if child >= hi:
                return
            if child + 1 < hi and data[first + child][0] < data[first + child + 1][0]:
                child += 1
            if not data[first + root][0] < data[first + child][0]:
                return
            data[first + root], data[first + child] = data[first + child], data[first + root]
            root = child

    def heap_sort(self, a: int, b: int) -> None:
        first, hi = a, b - a
        for i in range((hi - 1) // 2, -1, -1):
            self.sift_down(i, hi, first)
        for i in range(hi - 1, -1, -1):
            self.swap(first, first + i)
            self.sift_down(0, i, first)

    def pdqsort(self, a: int, b: int, limit: int) -> None:
        was_balanced, was_partitioned = True, True
        while True:
            length = b - a
            if length <= _INSERTION_MAX:
                self.insertion_sort(a, b)
                return
            if limit == 0:
                self.heap_sort(a, b)
                return
            if not was_balanced:
                self.break_patterns(a, b)
                limit -= 1
            pivot, hint = self.choose_pivot(a, b)
            if hint == _DECREASING:
                self.reverse_range(a, b)
                pivot = (b - 1) - (pivot - a)
                hint = _INCREASING
            if was_balanced and was_partitioned and hint == _INCREASING and self.partial_insertion_sort(a, b):
                return
            if a > 0 and not self.less(a - 1, pivot):
                a = self.partition_equal(a, b, pivot)
                continue
            mid, was_partitioned = self.partition(a, b, pivot)
            left, right = mid - a, b - mid
            threshold = length // 8
            if left < right:
                was_balanced = left >= threshold
                self.pdqsort(a, mid, limit)
                a = mid + 1
            else:
                was_balanced = right >= threshold
                self.pdqsort(mid + 1, b, limit)
                b = mid

    def partition(self, a: int, b: int, pivot: int) -> tuple[int, bool]:
        data = self.data
        data[a], data[pivot] = data[pivot], data[a]
        key = data[a][0]
        i, j = a + 1, b - 1
        while i <= j and data[i][0] < key:
            i += 1
        while i <= j and not data[j][0] < key:
            j -= 1
        if i > j:
            data[j], data[a] = data[a], data[j]
            return j, True
        data[i], data[j] = data[j], data[i]
        i, j = i + 1, j - 1
        while True:
            while i <= j and data[i][0] < key:
                i += 1
            while i <= j and not data[j][0] < key:
                j -= 1
            if i > j:
                break
            data[i], data[j] = data[j], data[i]
            i, j = i + 1, j - 1
        data[j], data[a] = data[a], data[j]
        return j, False

    def partition_equal(self, a: int, b: int, pivot: int) -> int:
        data = self.data
        data[a], data[pivot] = data[pivot], data[a]
        key = data[a][0]
        i, j = a + 1, b - 1
        while True:
            while i <= j and not key < data[i][0]:
                i += 1
            while i <= j and key < data[j][0]:
                j -= 1
            if i > j:
                break
            data[i], data[j] = data[j], data[i]
            i, j = i + 1, j - 1
        return i

    def partial_insertion_sort(self, a: int, b: int) -> bool:
        data = self.data
        max_steps, shortest_shifting = 5, 50
        i = a + 1
        for _ in range(max_steps):
            while i < b and not data[i][0] < data[i - 1][0]:
                i += 1
            if i == b:
                return True
            if b - a < shortest_shifting:
                return False
            data[i], data[i - 1] = data[i - 1], data[i]
            if i - a >= 2:  # shift the smaller one to the left
                for j in range(i - 1, 0, -1):
                    if not data[j][0] < data[j - 1][0]:
                        break
                    data[j], data[j - 1] = data[j - 1], data[j]
            if b - i >= 2:  # shift the greater one to the right
                for j in range(i + 1, b):
                    if not data[j][0] < data[j - 1][0]:
                        break
                    data[j], data[j - 1] = data[j - 1], data[j]
        return False

    def break_patterns(self, a: int, b: int) -> None:
        length = b - a
        if length < 8:
            return
        state = length
        modulus = 1 << length.bit_length()
        index = a + (length // 4) * 2 - 1
        for n in range(3):
            state ^= (state << 13) & _MASK64
            state ^= state >> 7
            state ^= (state << 17) & _MASK64
            other = state & (modulus - 1)
            if other >= length:
                other -= length
            self.swap(index + n, a + other)

    def choose_pivot(self, a: int, b: int) -> tuple[int, int]:
        length = b - a
        swaps = [0]
        i, j, k = a + length // 4 * 1, a + length // 4 * 2, a + length // 4 * 3
        if length >= 8:
            if length >= _NINTHER_MIN:
                i = self.median(i - 1, i, i + 1, swaps)
                j = self.median(j - 1, j, j + 1, swaps)
                k = self.median(k - 1, k, k + 1, swaps)
            j = self.median(i, j, k, swaps)
        if swaps[0] == 0:
            return j, _INCREASING
        if swaps[0] == _MAX_SWAPS:
            return j, _DECREASING
        return j, _UNKNOWN

    def order2(self, a: int, b: int, swaps: list[int]) -> tuple[int, int]:
        if self.less(b, a):
            swaps[0] += 1
            return b, a
        return a, b

    def median(self, a: int, b: int, c: int, swaps: list[int]) -> int:
        a, b = self.order2(a, b, swaps)
        b, c = self.order2(b, c, swaps)
        a, b = self.order2(a, b, swaps)
        return b

    def reverse_range(self, a: int, b: int) -> None:
        i, j = a, b - 1
        while i < j:
            self.swap(i, j)
            i, j = i + 1, j - 1
