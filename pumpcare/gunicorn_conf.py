"""gunicorn settings of the web service (Dockerfile, docker-compose.yml, bench):
``gunicorn --config python:pumpcare.gunicorn_conf pumpcare.wsgi:application``."""

import logging

from pumpcare.logs import RedactSearchTerms

# The access log (--access-logfile -) names no patient: search terms and the calendar and
# confirmation links' secrets are redacted from the request line and the Referer
# (pumpcare.logs). Loggers are process-wide objects: set here, in the master, the filter
# is inherited by every worker.
logging.getLogger("gunicorn.access").addFilter(RedactSearchTerms())

# The longest request is an admin's catalog change that every projection reads (a drug's
# maximum days in the reservoir): it recomputes the projections in its own transaction,
# 45 s for 100,000 pumps on 2 cores (bench/nightly_projection.py). gunicorn's default of
# 30 s would kill the worker and roll the change back.
timeout = 120


def post_worker_init(worker):
    """Each worker loads WeasyPrint and the card fonts before its first request, so the
    first emergency card it prints takes the time of every other one."""
    from cards.render import warm_up

    worker.log.info("WeasyPrint warmed up in %.2f s", warm_up())
