"""Flask lives here: the blueprints (views by journey) and what only they use; a view module never
imports another view module (setup.cfg: lint-imports)."""
