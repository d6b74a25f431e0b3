"""Tests of the media package (storage backends and image processing)."""
