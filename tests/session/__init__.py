"""Tests of voiceguide.session and the commands that run one: the controller, the voice menu, settings, whole sessions."""
