"""Answers read once per page: a memo for the lookups need-to-know repeats.

Deciding who may see a case asks the same few questions again and again: the member's roles,
her seats on a committee, who was composed for a case, its consents. A page that decides for
many cases (the inbox) or for many steps (the case page) runs inside `memoized()`, where each
question reaches the database once; `prefetch` answers one for a whole batch of cases in one
query. Outside `memoized()` nothing is kept, so code that writes and then reads again (a
step being taken, the tests) always reads the database.

Only read-only work runs inside: the memo lives as long as the `with` block, in a context
variable, so it never outlives a request nor crosses threads.
"""

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")
_memo: ContextVar[dict | None] = ContextVar("cellule_memo", default=None)


@contextmanager
def memoized(*, fresh: bool = False) -> Iterator[None]:
    """Remember lookups until the block ends. Nested blocks share the outer memo, unless
    `fresh`: a block that may follow its caller's writes starts from nothing."""
    if _memo.get() is not None and not fresh:
        yield
        return
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def remember(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, once per `key` inside `memoized()`; every time outside."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


def active() -> bool:
    return _memo.get() is not None


def prefill(answers: dict) -> None:
    """Record answers read for a batch (`{key: value}`); keys already known stay as they are."""
    memo = _memo.get()
    if memo is not None:
        for key, value in answers.items():
            memo.setdefault(key, value)
