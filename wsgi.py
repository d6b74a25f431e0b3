"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""
from fieldservice import create_app

app = create_app()
