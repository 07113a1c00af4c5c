"""The cache holds only what can be computed again (worklist pages, stale-card ids), so a
cache that fails slows a page down and never fails it: every operation here that the cache
backend refuses is logged and treated as a miss.

``cached`` also keeps the web workers from all rendering the same page at once. A write
changes the data version, so every worker misses the page at the same moment; the first
one renders it while the others wait for its result instead of rendering it again.

Its keys name their content (they hold the data version), so a value never changes under
its key: each process also keeps the values it used last in memory, and a page read a
second time costs no trip to a shared (Redis) cache.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache

log = logging.getLogger(__name__)
T = TypeVar("T")

# A worker that died while rendering holds the key's lock this long at most.
LOCK_SECONDS = 30
POLL_SECONDS = 0.005
# The values this process used last, by key (keys name their content; see above).
_LOCAL: OrderedDict[str, object] = OrderedDict()
_LOCAL_LOCK = threading.Lock()  # for threaded servers
LOCAL_ENTRIES = 128


def cached(key: str, produce: Callable[[], T], timeout: int, *, wait: float = 2.0) -> T:
    """The value under ``key``, or ``produce()`` stored there for ``timeout`` seconds.
    While another process produces the same key, wait up to ``wait`` seconds for its value
    before producing it here too. ``produce`` must not return None, and ``key`` must name
    the value's content: a value stored under a key is never replaced by another."""
    with _LOCAL_LOCK:
        if (value := _LOCAL.get(key)) is not None:
            _LOCAL.move_to_end(key)
            return value
    value = _try(cache.get, key)
    if value is None:
        value = _produce_once(key, produce, timeout, wait)
    with _LOCAL_LOCK:
        _LOCAL[key] = value
        while len(_LOCAL) > LOCAL_ENTRIES:
            _LOCAL.popitem(last=False)
    return value


def local_clear() -> None:
    """Forget what this process keeps in memory (tests whose rolled-back ids come back)."""
    with _LOCAL_LOCK:
        _LOCAL.clear()


def _produce_once(key: str, produce: Callable[[], T], timeout: int, wait: float) -> T:
    lock = f"{key}:producing"
    if not _try(cache.add, lock, 1, LOCK_SECONDS, default=True):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            value = _try(cache.get, key)
            if value is not None:
                return value
        lock = None  # not ours: the other process deletes it
    try:
        value = produce()
        _try(cache.set, key, value, timeout)
    finally:
        if lock is not None:
            _try(cache.delete, lock)
    return value


def _try(operation, *args, default=None):
    try:
        return operation(*args)
    except Exception:  # noqa: BLE001 - any failure of the cache is a miss, by design
        log.warning("cache %s failed; computing without it", operation.__name__, exc_info=True)
        return default
