"""The measuring harness, kept out of the product: benchmarks that print figures beside their
targets (`voiceguide bench`, which runs `python -m benchmarks`), and what they share with the
tests: a private PulseAudio server with null sinks (pulse), a synthesized person (speechset), a
whole session through the devices (rehearsal), the real recordings (realspeech) and scoring what
was heard against what was said (scoring). Nothing here asserts: tests carry only generous safety
bounds, and the figures live here. Nothing under voiceguide/ imports this package."""
