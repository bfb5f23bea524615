"""`rare-news web`: a read-only web app and JSON API over the store (SQLite or Postgres), built on FastAPI and
Jinja2. It talks to `models/` only; `web.app.create_app` makes the app."""
