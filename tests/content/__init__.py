"""Tests of voiceguide.content: loading, checking and linting routines and vocabularies."""
