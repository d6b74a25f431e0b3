"""Photo storage and image processing, independent of Flask and the database."""
