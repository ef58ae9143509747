"""Scale-out: source runs as Celery tasks on many workers, sharing PostgreSQL and Redis.

`radar schedule --dispatch` enqueues one task per due source (dispatch.py); every
`radar worker` (worker.py) takes tasks one at a time and runs them with the ordinary
pipeline, under the ordinary per-source lock, with a per-host politeness budget kept in
Redis and shared by all workers (limiter.py). Late acknowledgement and the dispatch id
stored on the Run row make a task whose worker died run again, exactly once.

Only `settings` is imported by single-machine code (config.yaml's `distributed:` section);
everything else imports Celery and redis-py, so it is imported only when asked for.
"""
