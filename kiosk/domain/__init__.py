"""Plain functions over a SQLAlchemy Session, a clock and the site's keys: the rules of the service.
Never Flask, never the web layer (setup.cfg: lint-imports); operations flush, the caller commits."""
