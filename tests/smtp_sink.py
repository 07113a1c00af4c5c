"""A real SMTP server on loopback (aiosmtpd) for the reliability tests and the delivery
benchmark: it records the Message-ID of every message it accepts, can refuse for a while
(451, "try again later") and can be slow (a delay per message)."""

from __future__ import annotations

import asyncio
import email
import email.parser
import email.policy
import logging
import socket
import threading
import time
from collections import Counter

from aiosmtpd.controller import Controller

HEADERS = email.parser.BytesParser()
logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command at INFO


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self, keep_messages: bool = False):
        self.keep_messages = keep_messages  # parse and keep whole messages (slower)
        self.accepted: list[str] = []
        self.messages: list[email.message.EmailMessage] = []
        self.refused = 0
        self.refuse_until = 0.0  # time.monotonic() before which DATA is refused
        self.refuse_count = 0  # or: refuse this many messages, then recover
        self.delay = 0.0
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        with self._lock:
            refuse = time.monotonic() < self.refuse_until or self.refused < self.refuse_count
            if refuse:
                self.refused += 1
        if refuse:
            return "451 4.3.0 Mail server temporarily unavailable, try again later"
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.keep_messages:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        else:  # the headers only: the sink must not be the bottleneck of a benchmark
            message = HEADERS.parsebytes(envelope.content, headersonly=True)
        with self._lock:
            self.accepted.append(message["Message-ID"])
            if self.keep_messages:
                self.messages.append(message)
        return "250 2.0.0 OK"

    def counts(self) -> Counter:
        with self._lock:
            return Counter(self.accepted)

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.counts().values() if n > 1)


class SmtpSink:
    """``with SmtpSink() as sink:`` — an SMTP server on 127.0.0.1:``sink.port``."""

    def __init__(self, keep_messages: bool = False):
        self.recorder = Recorder(keep_messages)
        self.port = free_port()
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()
