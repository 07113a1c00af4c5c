"""The cache of worklist pages and stale-card ids (``pumpcare.caching``): a value is produced
once and shared; a worker that misses while another renders the same page waits for it
instead of rendering it again; a failing cache never fails a page; with ``CACHE_URL`` the
web workers share one Redis cache."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from pumpcare import caching


def producer(value):
    calls = []

    def produce():
        calls.append(1)
        return value

    return produce, calls


class BrokenCache:
    def __getattr__(self, name):
        def refuse(*args, **kwargs):
            raise ConnectionError("cache down")

        refuse.__name__ = name
        return refuse


def test_a_value_is_produced_once_and_then_read():
    produce, calls = producer(b"page")
    assert caching.cached("k", produce, 60) == b"page"
    caching.local_clear()  # as another process sees it
    assert caching.cached("k", produce, 60) == b"page"
    assert len(calls) == 1


def test_each_process_keeps_the_values_it_used_and_reads_them_without_the_cache(monkeypatch):
    produce, calls = producer(b"page")
    caching.cached("k", produce, 60)
    monkeypatch.setattr(caching, "cache", BrokenCache())  # a shared cache gone, or slow
    assert caching.cached("k", produce, 60) == b"page"
    assert len(calls) == 1
    for n in range(caching.LOCAL_ENTRIES):  # the oldest are forgotten first
        caching.cached(f"other{n}", lambda: b"x", 60)
    assert caching.cached("k", produce, 60) == b"page" and len(calls) == 2


def test_a_miss_while_another_worker_produces_the_same_key_waits_for_its_value():
    cache.add("k:producing", 1, 30)  # another worker is rendering k
    threading.Timer(0.1, lambda: cache.set("k", b"theirs", 60)).start()
    produce, calls = producer(b"mine")
    started = time.monotonic()
    assert caching.cached("k", produce, 60) == b"theirs"
    assert calls == [] and time.monotonic() - started >= 0.09


def test_a_worker_that_never_delivers_is_waited_for_a_bounded_time():
    cache.add("k:producing", 1, 30)  # a worker died while rendering
    produce, calls = producer(b"mine")
    started = time.monotonic()
    assert caching.cached("k", produce, 60, wait=0.1) == b"mine"
    assert len(calls) == 1 and time.monotonic() - started < 1
    assert cache.get("k") == b"mine"


def test_the_lock_is_released_when_producing_fails():
    def fail():
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        caching.cached("k", fail, 60)
    assert cache.get("k:producing") is None
    produce, calls = producer(b"page")
    assert caching.cached("k", produce, 60, wait=5) == b"page" and len(calls) == 1


def test_a_failing_cache_is_a_miss_not_an_error(monkeypatch, caplog):
    caplog.set_level(
        logging.WARNING, logger="pumpcare.caching"
    )  # a Celery test worker leaves the root at ERROR
    monkeypatch.setattr(caching, "cache", BrokenCache())
    produce, calls = producer(b"page")
    assert caching.cached("k", produce, 60) == b"page"
    caching.local_clear()
    assert caching.cached("k", produce, 60) == b"page"
    assert len(calls) == 2
    assert "cache get failed" in caplog.text


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
def test_the_worklist_is_served_when_the_cache_is_down(monkeypatch, api, clinic):
    monkeypatch.setattr(caching, "cache", BrokenCache())
    response = api.get("/api/v1/worklist/?clinic=HOME")
    assert response.status_code == 200 and response.json()["count"] == 0


ROOT = Path(__file__).resolve().parent.parent


def test_cache_url_selects_a_shared_redis_cache(tmp_path):
    probe = "import json, django.conf, pumpcare.settings as s; print(json.dumps(getattr(s, 'CACHES', None)))"
    env = {k: v for k, v in os.environ.items() if k not in ("CACHE_URL",)}
    env.update(DEBUG="1", PUMPCARE_VAR_DIR=str(tmp_path))

    def run(**extra):
        return subprocess.run(
            [sys.executable, "-c", probe],
            cwd=ROOT,
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        )

    assert json.loads(run().stdout) is None  # Django's default: a cache in each process
    shared = json.loads(run(CACHE_URL="redis://cache:6379/1").stdout)["default"]
    assert shared["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert shared["LOCATION"] == "redis://cache:6379/1"


@pytest.mark.django_db
@pytest.mark.usefixtures("frozen_now")
def test_web_workers_share_worklist_pages_through_redis(needs_redis, api, clinic):
    import redis

    location = needs_redis.rsplit("/", 1)[0] + "/14"  # a database of its own, emptied here
    redis.Redis.from_url(location).flushdb()
    url = "/api/v1/worklist/?clinic=HOME"
    with override_settings(
        CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}}
    ):
        with CaptureQueriesContext(connection) as cold:
            first = api.get(url).json()
        # Another worker's view of the same Redis: the page is there.
        keys = [k.decode() for k in redis.Redis.from_url(location).keys("*worklist:*")]
        assert len(keys) == 1 and not keys[0].endswith(":producing")
        caching.local_clear()  # as another worker
        with CaptureQueriesContext(connection) as warm:
            assert api.get(url).json() == first
        assert len(warm) < len(cold)
    redis.Redis.from_url(location).flushdb()
