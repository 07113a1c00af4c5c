"""Celery tasks of scheduling: thin, each calls one service."""

from celery import shared_task

from . import proposals, replacements


@shared_task(name="scheduling.propose_refills")
def propose_refills() -> dict:
    """Daily, after the projections: refill proposals for every clinic (LRA-5)."""
    return proposals.refill_proposals_run_all().as_dict()


@shared_task(name="scheduling.plan_replacements")
def plan_replacements() -> dict:
    """Daily: replacement planning tasks and their escalation (ERI-2)."""
    return replacements.replacement_planning_run_all().as_dict()
