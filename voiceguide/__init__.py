"""voiceguide: an offline, hands-free voice guide for short physical routines."""

__version__ = "0.1.0"
