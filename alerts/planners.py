"""The apps that plan messages, and what the outbox asks them.

The outbox stores and delivers messages; it knows clinics, patients and pumps, not what an
appointment or an emergency card is. An app that plans messages of its own registers a
``Planner`` for their subject (``appointment:40``, ``cards:HOME``: the part before the
colon) when it is ready. When a row of that subject is about to be sent, delivery asks its
planner whether the message is still due (fire on state, not on the plan) and what the
message's template is filled with; the periodic planning job runs the passes the apps
registered. Rows about an alert (``alert:7``) are the outbox's own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Planner:
    """What the outbox asks the app that planned a message.

    - ``template``: the messages' templates, without the suffix
      (``<template>.subject.txt``, ``.txt`` and ``.html``);
    - ``obsolete(row, now)``: why the row must not be sent any more, or ``""``;
    - ``context(row, now)``: what its template is filled with, read when it is sent.
    """

    subject: str
    template: str
    obsolete: Callable[[object, datetime], str]
    context: Callable[[object, datetime], dict]


_PLANNERS: dict[str, Planner] = {}
# The periodic planning job's passes, by phase: the state passes raise and resolve alerts,
# so they run before the open alerts' messages are planned; the message passes plan rows.
STATE, MESSAGES = "state", "messages"
_PASSES: dict[str, dict[str, Callable[[], dict]]] = {STATE: {}, MESSAGES: {}}


def register(planner: Planner) -> None:
    _PLANNERS[planner.subject] = planner


def planner_of(subject: str) -> Planner | None:
    """The planner of a row's subject (``appointment:40`` → the ``appointment`` planner)."""
    return _PLANNERS.get(subject.partition(":")[0])


def register_pass(phase: str, name: str, run: Callable[[], dict]) -> None:
    """``run() -> dict`` of counts, run by every periodic planning job in ``phase``."""
    _PASSES[phase][name] = run


def passes(phase: str) -> list[Callable[[], dict]]:
    return list(_PASSES[phase].values())
