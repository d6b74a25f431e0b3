"""The dispatcher's board: read model (board.py) and pages (web.py)."""
