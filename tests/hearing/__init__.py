"""Tests of voiceguide.hearing: echo cancellation, the recognizers and the listener, on real and synthesized speech."""
