"""Content: routines and command vocabularies (data, never code), loaded, checked and linted."""
