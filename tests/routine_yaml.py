"""A small valid routine as YAML text, for tests that break it in one place."""

VALID = """\
id: test-routine
title: Test routine
description: A short routine for tests.
precautions:
  - Move gently.
screening:
  - ask: Are you pregnant?
    reason: Not advised during pregnancy.
safety_message: Let's end here and rest.
closing: That's all.
steps:
  - say: Sit tall.
  - say: Lean to the {side}.
    sides: [left, right]
    hold: 10
"""


def write(tmp_path, text: str, name: str = "routine.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
