"""Hearing: microphone audio in (inputs), the guide's own voice cancelled (echo), voice activity (vad),
recognizers and their models, and the listener that turns it all into events."""
