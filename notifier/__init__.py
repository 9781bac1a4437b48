"""notifier: turn useapi.net PixVerse polling into signed push events."""

__version__ = "0.1.0"
