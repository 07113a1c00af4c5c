"""Answers remembered for one block inside the writers' transaction.

Many writes in one transaction (a registry import) would read the same rows again and again
(the actor's role, a catalog row). A ``TransactionMemo`` keeps what was read for the length
of one block, which must run inside the transaction and ends inside it, so no answer
outlives it; outside a block nothing is remembered. A write to what it remembers forgets it
all (``forget``, connected to that model's save and delete).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction


class TransactionMemo:
    def __init__(self, name: str):
        self.name = name
        self._answers: ContextVar[dict | None] = ContextVar(name, default=None)

    @contextmanager
    def block(self) -> Iterator[None]:
        """Remember answers until the block ends. Nesting joins the outer block."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError(f"{self.name} needs the writers' transaction")
        if self._answers.get() is not None:
            yield
            return
        token = self._answers.set({})
        try:
            yield
        finally:
            self._answers.reset(token)

    def answers(self) -> dict | None:
        """What the block remembers (a dict to read and fill), None outside a block."""
        return self._answers.get()

    def forget(self, *args, **kwargs) -> None:
        """Forget every answer of the block (a signal receiver: any arguments)."""
        if (answers := self._answers.get()) is not None:
            answers.clear()
