"""gunicorn settings of the web service (Dockerfile, docker-compose.yml, bench):
``gunicorn --config python:pumpcare.gunicorn_conf pumpcare.wsgi:application``."""


def post_worker_init(worker):
    """Each worker loads WeasyPrint and the card fonts before its first request, so the
    first emergency card it prints takes the time of every other one."""
    from cards.render import warm_up

    worker.log.info("WeasyPrint warmed up in %.2f s", warm_up())
