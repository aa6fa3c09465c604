"""Tests of voiceguide.speaking: the timeline, real speech synthesis, the player and real devices."""
