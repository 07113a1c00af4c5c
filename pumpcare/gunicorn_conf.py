"""gunicorn settings of the web service (Dockerfile, docker-compose.yml, bench):
``gunicorn --config python:pumpcare.gunicorn_conf pumpcare.wsgi:application``."""

import logging

from pumpcare.logs import RedactSearchTerms

# The access log (--access-logfile -) names no patient: search terms and the calendar and
# confirmation links' secrets are redacted from the request line and the Referer
# (pumpcare.logs). Loggers are process-wide objects: set here, in the master, the filter
# is inherited by every worker.
logging.getLogger("gunicorn.access").addFilter(RedactSearchTerms())

# gunicorn's default timeout (30 s) is kept: no request recomputes more than
# PUMPCARE_PROJECTIONS_INLINE_LIMIT projections; an edit that many more read marks them
# stale and leaves them to the workers (refills.projections.inputs_changed).


def post_worker_init(worker):
    """Each worker loads WeasyPrint and the card fonts before its first request, so the
    first emergency card it prints takes the time of every other one."""
    from cards.render import warm_up

    worker.log.info("WeasyPrint warmed up in %.2f s", warm_up())
