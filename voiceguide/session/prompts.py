"""What the guide says on its own account, beside the routine's text: questions, acknowledgements,
help. Rendered with the routine before the session starts, so no reply waits on the speech engine.

They avoid command phrases where they can (the guide must not hear itself); help and the stop
acknowledgement cannot, since they tell the person what to say.
"""

from __future__ import annotations

from ..content.types import Command, Routine, Vocabulary

SCREEN_INTRO = "Before we start, a few questions about your health. Please answer each one out loud, with yes or no."
NOT_HEARD = "I didn't catch an answer."
NO_ANSWER_DECLINE = "I didn't hear an answer, so to be safe I won't start this routine."
ANSWERS_THANKS = "Thank you."
TIMED_OUT = "I'll end the session here. Take care."
PAUSED = "Paused. Say resume when you're ready."
HEARING_AGAIN = "I can hear you again. Say resume when you're ready."
ASK_HURT = "Did something hurt? Please say yes or no."
"""Asked when what was said may have been pain, not surely (see whisper.ASK_LOG_PROB)."""
SLOWER = ("Taking more time now.", "This is as slow as I speak.")
FASTER = ("Picking up the pace.", "This is as fast as I speak.")
LOUDER = ("Is this easier to hear?", "This is as loud as I go.")
SOFTER = ("Turning it down.", "This is as quiet as I go.")
DEAF_REASONS = {
    "quiet": "no sound is coming from the microphone",
    "muted": "the microphone seems muted",
    "failed": "the speech recognizer stopped working",
    "behind": "the speech recognizer has fallen behind",
    "ended": "the microphone has closed",
}


def stopped(window_s: float) -> str:
    return f"Stopped. Say resume within {window_s:g} seconds to pick up from the start of this step."


def deaf(reason_key: str, heard_before: bool = True) -> str:
    """`heard_before`: the microphone has sent sound in this session; only then "any more"."""
    return (
        f"I can't hear you{' any more' if heard_before else ''}: {DEAF_REASONS[reason_key]}. I've paused, "
        "because I won't guide you while I can't hear you."
    )


def declined(routine: Routine, reason: str) -> str:
    return (
        f"{reason} So I won't guide you through the {routine.title.lower()} today. Please ask a doctor or a "
        "physiotherapist before you try it."
    )


def offer(alternative: Routine) -> str:
    return f"The {alternative.title.lower()} is fine to do instead. Would you like to do it now?"


def too_often(routine: Routine, count: int) -> str:
    times = "once" if count == 1 else "twice" if count == 2 else f"{count} times"
    return (
        f"You have done the {routine.title.lower()} {times} in the last day. Releasing your back too often "
        "strains it, so let's leave it until tomorrow."
    )


def help_text(vocab: Vocabulary) -> str:
    say = [vocab.phrases[c][0] for c in Command if c not in (Command.STOP, Command.PAIN)]
    return (
        f"Say {vocab.phrases[Command.STOP][0]} at any time and I stop at once. If anything hurts, say "
        f"{vocab.phrases[Command.PAIN][0]}. You can also say: {', '.join(say[:-1])}, or {say[-1]}."
    )


def time_left(seconds: float) -> str:
    minutes = round(seconds / 60)
    if seconds < 45:
        return "Less than a minute left."
    if minutes <= 1:
        return "About a minute left."
    return f"About {minutes} minutes left."


def fixed_texts(routine: Routine, vocab: Vocabulary, total_s: float, window_s: float, offer_routine: Routine | None) -> list[str]:
    """Every prompt a session of `routine` may say, so all of them can be rendered up front."""
    texts = [SCREEN_INTRO, NOT_HEARD, NO_ANSWER_DECLINE, ANSWERS_THANKS, TIMED_OUT, PAUSED, HEARING_AGAIN, ASK_HURT,
             stopped(window_s), help_text(vocab), routine.safety_message, *SLOWER, *FASTER, *LOUDER, *SOFTER]
    texts += [deaf(key, before) for key in DEAF_REASONS for before in (True, False)]
    for q in routine.screening:
        texts += [q.ask, declined(routine, q.reason)]
    if offer_routine is not None:
        texts.append(offer(offer_routine))
    texts += sorted({time_left(s) for s in range(0, int(total_s) + 61, 15)})
    return texts
