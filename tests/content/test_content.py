"""Loading content: the shipped routines, and every class of bad input, each with its exact
FILE:LINE: key.path message."""

import json
import shutil

import pytest

from voiceguide.content.loading import content_root, load_library, load_routine
from voiceguide.content.types import Command
from voiceguide.errors import ContentError, UsageError
from voiceguide.hearing.recognizers import key_phrases
from voiceguide.speaking.timeline import compile_routine

from ..routine_yaml import VALID, write


@pytest.fixture(autouse=True)
def in_tmp(tmp_path, monkeypatch):
    """Run in the test's folder, so files display by name as a person would type them."""
    monkeypatch.chdir(tmp_path)


def only_error(tmp_path, text, name="routine.yaml"):
    library = load_library([write(tmp_path, text, name)])
    assert len(library.errors) == 1, [str(p) for p in library.problems]
    return str(library.errors[0])


def test_shipped_content_is_valid_and_lint_clean():
    library = load_library()
    assert [str(p) for p in library.problems] == []
    assert {"upper-back", "knee-twist", "warm-up", "cool-down"} <= set(library.routines)
    assert set(library.vocabularies["en"].phrases) == set(Command)


def test_shipped_routines_carry_the_articles_precautions():
    library = load_library()
    for rid in ("upper-back", "knee-twist"):
        routine = library.routines[rid]
        asks = " ".join(q.ask for q in routine.screening).lower()
        for topic in ("pregnant", "back problems", "herniated", "poor condition", "sore"):
            assert topic in asks, (rid, topic)
        assert routine.warmup == "warm-up" and routine.cooldown == "cool-down"
        assert routine.max_per_day is not None
        assert "doctor or a physiotherapist" in routine.safety_message


def test_valid_routine_loads_with_its_fields(tmp_path):
    library = load_library([write(tmp_path, VALID)])
    assert library.problems == ()
    routine = library.routines["test-routine"]
    assert routine.steps[1].sides == ("left", "right")
    assert routine.steps[1].hold_s == 10.0
    assert routine.screening[0].reason == "Not advised during pregnancy."


def test_unknown_key_is_an_error_with_its_line(tmp_path):
    text = VALID.replace("    hold: 10\n", "    hold: 10\n    hodl: 12\n")
    assert only_error(tmp_path, text).startswith("routine.yaml:16: steps[1].hodl: unknown key; allowed here: say, hold")


def test_wrong_type(tmp_path):
    text = VALID.replace("    hold: 10\n", "    hold: ten\n")
    assert only_error(tmp_path, text) == "routine.yaml:15: steps[1].hold: must be a number of seconds between 0 and 300"


def test_out_of_range_hold(tmp_path):
    text = VALID.replace("    hold: 10\n", "    hold: 301\n")
    assert only_error(tmp_path, text) == "routine.yaml:15: steps[1].hold: must be a number of seconds between 0 and 300"


def test_out_of_range_breathing(tmp_path):
    text = VALID.replace("  - say: Sit tall.\n", "  - say: Sit tall.\n    breathing: {inhale: 4, exhale: 60, breaths: 2}\n")
    assert only_error(tmp_path, text) == (
        "routine.yaml:13: steps[0].breathing.exhale: must be a whole number of seconds between 1 and 10"
    )


def test_empty_text(tmp_path):
    text = VALID.replace("  - say: Sit tall.\n", "  - say: '  '\n")
    assert only_error(tmp_path, text) == "routine.yaml:12: steps[0].say: must be non-empty text"


def test_missing_steps(tmp_path):
    text = VALID[: VALID.index("steps:")]
    assert only_error(tmp_path, text) == "routine.yaml:1: (document): missing required key 'steps'"


def test_empty_steps(tmp_path):
    text = VALID[: VALID.index("steps:")] + "steps: []\n"
    assert only_error(tmp_path, text) == "routine.yaml:11: steps: must be a list with at least one step"


def test_duplicate_ids_across_files(tmp_path):
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    library = load_library([tmp_path])
    assert [str(p) for p in library.errors] == [
        "b.yaml:1: id: duplicate id 'test-routine', also used by a.yaml; ids must be unique"
    ]


def test_duplicate_key_in_one_mapping(tmp_path):
    text = VALID.replace("closing: That's all.\n", "closing: That's all.\ntitle: Again\n")
    assert only_error(tmp_path, text) == "routine.yaml:11: title: duplicate key (first on line 2); keep one"


def test_not_yaml(tmp_path):
    text = VALID.replace("  - say: Sit tall.\n", "  - say: [Sit tall.\n")
    message = only_error(tmp_path, text)
    assert message.startswith("routine.yaml:13: (document): not valid YAML:")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(VALID.replace("Sit tall.", "Sit tall, caf\xe9.").encode("latin-1"))
    library = load_library([path])
    assert [str(p) for p in library.errors] == [
        "latin1.yaml:12: (document): not UTF-8 (byte 0xe9); save the file as UTF-8"
    ]


def test_list_at_the_top(tmp_path):
    assert only_error(tmp_path, "- id: x\n- id: y\n").startswith("routine.yaml:1: (document): must be a mapping")


def test_alias_bomb_is_refused_quickly(tmp_path):
    bomb = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    assert only_error(tmp_path, bomb) == (
        "routine.yaml:2: (document): anchors and aliases (&, *) are not allowed; write the value out"
    )


def test_python_tags_are_not_constructed(tmp_path):
    text = VALID.replace("title: Test routine", "title: !!python/object/apply:os.system ['true']")
    message = only_error(tmp_path, text)
    assert message.startswith("routine.yaml:2: (document): not valid YAML: could not determine a constructor")


def test_side_placeholder_needs_sides(tmp_path):
    text = VALID.replace("  - say: Sit tall.\n", "  - say: Sit on your {side}.\n")
    assert only_error(tmp_path, text) == "routine.yaml:12: steps[0].say: uses {side} but the step has no 'sides'"


@pytest.mark.parametrize("old, new, message", [
    ("    hold: 10\n", "    hold: " + "9" * 5000 + "\n",
     "routine.yaml:15: steps[1].hold: a number 5000 characters long; give a number of a few digits"),
    ("sides: [left, right]", "sides: [[left]]", "routine.yaml:14: steps[1].sides: must be a list of distinct sides from: left, right"),
    ("  - Move gently.", "  - Say {jump} to jump.",
     "routine.yaml:5: precautions[0]: unknown placeholder {jump}; a precaution may name a command, such as {pause}, "
     "which is said in the vocabulary's words"),
    ("id: test-routine", "id: test-routine\nlanguage: xx",
     "routine.yaml:2: language: must be a two-letter ISO 639-1 language code such as 'en' or 'ko'"),
], ids=["5000-digits", "nested-sides", "unknown-command", "no-such-language"])
def test_values_no_routine_has_are_one_line_errors(tmp_path, old, new, message):
    assert only_error(tmp_path, VALID.replace(old, new)) == message


@pytest.mark.parametrize("old, new, message", [
    ("id: test-routine", "id: stop", "routine.yaml:1: id: the spoken name 'stop' is already the command 'stop'; "
     "the voice menu could not tell them apart, so give the routine other names"),
    ("steps:", "names: [hello guide]\nsteps:", "routine.yaml:11: names: the spoken name 'hello guide' is already the "
     "menu phrase 'start'; the voice menu could not tell them apart, so give the routine other names"),
    ("steps:", "names: [knee twist]\nsteps:", "routine.yaml:11: names: the spoken name 'knee twist' is already the "
     "routine 'knee-twist'; the voice menu could not tell them apart, so give the routine other names"),
    ("id: test-routine", "id: test-routine\nlanguage: de", "routine.yaml:2: language: no command vocabulary for 'de' "
     f"(have: en, ko); add one with `language: de` to {content_root() / 'commands'}"),
], ids=["named-stop", "named-hello-guide", "named-as-another", "no-vocabulary"])
def test_check_refuses_a_routine_the_voice_menu_or_a_session_could_not_use(tmp_path, old, new, message):
    library = load_library([write(tmp_path, VALID.replace(old, new))], base=load_library())
    assert [str(p) for p in library.problems] == [message]


def test_a_precaution_names_a_command_in_the_vocabularys_words_and_the_lint_allows_it(tmp_path):
    text = VALID.replace("  - Move gently.", "  - Take a break when you need one. Say {pause}, and {time_left} to hear the time.")
    library = load_library([write(tmp_path, text)], base=load_library())
    assert library.problems == ()
    routine = library.routines["test-routine"]
    said = [c.text for c in compile_routine(routine).cues]
    assert "Take a break when you need one. Say pause, and time left to hear the time." in said
    korean = load_library().vocabularies["ko"]
    said = [c.text for c in compile_routine(routine, vocab=korean).cues]
    assert f"Take a break when you need one. Say {korean.phrases[Command.PAUSE][0]}, and " \
           f"{korean.phrases[Command.TIME_LEFT][0]} to hear the time." in said


def test_an_empty_content_folder_is_an_error(tmp_path, cli):
    (tmp_path / "content").mkdir()
    result = cli("check", env={"VOICEGUIDE_CONTENT": str(tmp_path / "content")})
    assert result.returncode == 2
    assert result.stderr == f"{tmp_path / 'content'}:1: (document): no content files (.yaml) in this folder; check the path\n"


def test_check_refuses_a_phrase_pocketsphinx_cannot_hear_as_run_and_serve_would(tmp_path, cli):
    """English listens with pocketsphinx when Whisper is not installed (or --engine pocketsphinx):
    a phrase of words its dictionary lacks must have pronunciations, or `check` says so."""
    shutil.copytree(content_root(), tmp_path / "content")
    vocab = tmp_path / "content" / "commands" / "en.yaml"
    text = vocab.read_text().replace("help: [help, what can i say]", "help: [help, what can i say, hello zorblax]")
    vocab.write_text(text)
    env = {"VOICEGUIDE_CONTENT": str(tmp_path / "content")}
    result = cli("check", env=env)
    assert result.returncode == 2 and result.stderr == (
        f"{vocab}:16: commands.help[2]: 'zorblax' in 'hello zorblax' is not in the pocketsphinx dictionary (English "
        "listens with it when Whisper is not installed); give the phrase its ARPAbet pronunciations under spotting, "
        "or use other words\n")
    # (`serve` refuses it too: test_session_devices.) With its pronunciation given, pocketsphinx listens for it.
    vocab.write_text(text.replace("spotting:\n", "spotting:\n  hello zorblax: {threshold: -20, pronunciations: [HH AH L OW Z AO R B L AE K S]}\n"))
    assert cli("check", env=env).returncode == 0
    (spotted,) = [k for k in key_phrases(load_library([vocab]).vocabularies["en"]) if k.phrase == "hello zorblax"]
    assert spotted.phones == "HH AH L OW Z AO R B L AE K S"


def test_wrapper_must_exist(tmp_path):
    text = VALID.replace("steps:", "warmup: no-such-routine\nsteps:")
    assert only_error(tmp_path, text).startswith("routine.yaml:11: warmup: no routine with id 'no-such-routine'")


def test_every_bad_file_in_a_folder_is_reported(tmp_path):
    write(tmp_path, VALID.replace("hold: 10", "hold: -1"), "one.yaml")
    write(tmp_path, "[1, 2", "two.yaml")
    write(tmp_path, VALID.replace("test-routine", "fine-routine"), "three.yaml")
    library = load_library([tmp_path])
    assert [p.file for p in library.errors] == ["one.yaml", "two.yaml"]
    assert set(library.routines) == {"fine-routine"}


def test_vocabulary_phrase_can_mean_one_command(tmp_path):
    vocab = (tmp_path / "en.yaml")
    shipped = (load_library().vocabularies["en"].source)
    text = open(shipped, encoding="utf-8").read().replace("skip]", "skip, stop]")
    vocab.write_text(text, encoding="utf-8")
    errors = [str(p) for p in load_library([vocab]).errors]
    assert len(errors) == 1 and "phrase 'stop' already means 'stop'" in errors[0]
    assert errors[0].startswith("en.yaml:") and ": commands.next[3]:" in errors[0]


def test_unknown_routine_names_the_known_ones():
    with pytest.raises(UsageError, match="no routine 'nope'.*known routines: cool-down, knee-twist"):
        load_routine("nope")


def test_routine_file_resolves_wrappers_against_shipped_content(tmp_path):
    path = write(tmp_path, VALID.replace("steps:", "warmup: warm-up\nsteps:"))
    routine, routines = load_routine(str(path))
    assert routine.id == "test-routine" and "warm-up" in routines


def test_bad_routine_file_raises_every_problem(tmp_path):
    path = write(tmp_path, VALID.replace("hold: 10", "hold: 999").replace("Sit tall.", "''"))
    with pytest.raises(ContentError) as info:
        load_routine(str(path))
    assert len(info.value.problems) == 2


@pytest.mark.parametrize(
    "text",
    [
        VALID.replace("hold: 10", "hold: 999"),
        "\xff\xfe",
        "- a list\n",
        "a: &a [1]\nb: *a\n",
        "key: [unclosed\n",
    ],
    ids=["schema", "binary", "list", "alias", "syntax"],
)
def test_cli_check_bad_content_exits_2_without_traceback(tmp_path, cli, text):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    result = cli("check", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith(str(path) + ":") for line in lines)


def test_cli_check_json_lists_problems(tmp_path, cli):
    write(tmp_path, VALID.replace("hold: 10", "hold: 999"))
    result = cli("check", str(tmp_path), "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["errors"] == 1
    assert report["problems"][0]["path"] == "steps[1].hold"
    assert report["problems"][0]["line"] == 15


def test_cli_check_shipped_content(cli):
    result = cli("check")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "0 errors, 0 warnings" in result.stdout


def test_cli_show_unknown_routine_is_one_line(cli):
    result = cli("show", "nope")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "known routines:" in result.stderr


def test_a_routines_menu_names_are_checked_and_may_not_mean_anything_else(tmp_path):
    text = VALID.replace("title:", "names: [upper twist]\ntitle:", 1)
    shipped = load_library()
    library = load_library([write(tmp_path, text)], base=shipped)
    vocab = shipped.vocabularies["en"].with_choices(list(library.routines.values()))
    assert "upper twist" in vocab.meanings()[next(c for c in vocab.choices if c.routine == "test-routine")]
    assert only_error(tmp_path, VALID.replace("title:", "names: [knee 2]\ntitle:", 1)).endswith(
        "names[0]: must be words of letters and apostrophes only")
    clash = load_library([write(tmp_path, VALID.replace("title:", "names: [help]\ntitle:", 1))], base=shipped)
    assert [str(p) for p in clash.problems] == ["routine.yaml:2: names: the spoken name 'help' is already the command "
                                                "'help'; the voice menu could not tell them apart, so give the routine other names"]


def test_a_vocabulary_cannot_make_stop_or_pain_unhearable(tmp_path):
    shipped = (content_root() / "commands" / "en.yaml").read_text()
    text = shipped.replace("  pain: {threshold: -35}", "  pain: {threshold: 0}")
    assert text != shipped
    line = text.splitlines().index("  pain: {threshold: 0}") + 1
    assert only_error(tmp_path, text, "en.yaml") == (
        f"en.yaml:{line}: spotting.pain.threshold: 'pain' is a pain phrase and must stay easy to hear: use -15 or lower"
    )


@pytest.mark.parametrize("char", ["\a", "\x00", "\x1b", "\ufeff"])
def test_a_control_character_in_a_content_file_is_one_line_naming_where(tmp_path, char):
    lines = VALID.splitlines()
    lines[1] = lines[1][:7] + char + lines[1][7:]
    assert only_error(tmp_path, "\n".join(lines) + "\n") == (
        f"routine.yaml:2: (document): control character U+{ord(char):04X} at column 8; remove it (save the file as plain UTF-8 text)"
    )


def test_a_byte_order_mark_at_the_start_is_fine(tmp_path):
    path = tmp_path / "routine.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    assert not load_library([path]).problems


def test_yaml_nested_a_hundred_thousand_deep_is_one_line(tmp_path):
    assert only_error(tmp_path, "steps: " + "[" * 100_000 + "]" * 100_000 + "\n") == (
        "routine.yaml:1: (document): nested too deeply; content is a few levels deep at most"
    )


def test_a_sparse_gigabyte_content_file_is_refused_by_its_size_before_reading(tmp_path):
    import tracemalloc

    path = tmp_path / "huge.yaml"
    with open(path, "wb") as f:
        f.truncate(2**30)  # sparse: a gigabyte claimed, nothing stored
    tracemalloc.start()
    try:
        library = load_library([path])
        assert tracemalloc.get_traced_memory()[1] < 2**20, "the file was read to be refused"
    finally:
        tracemalloc.stop()
    assert [str(p) for p in library.errors] == [
        "huge.yaml:1: (document): file is 1073741824 bytes; content files must be under 262144 bytes"]


@pytest.mark.parametrize(
    "text, phrase",
    [("Stop if you feel anything.", "stop"), ("Tell me if it hurts.", "it hurts"), ("In the next step, relax.", "next")],
)
def test_lint_warns_when_spoken_text_holds_a_command_phrase(tmp_path, text, phrase):
    routine_yaml = VALID.replace("  - say: Sit tall.\n", f"  - say: {text}\n")
    library = load_library([write(tmp_path, routine_yaml)], base=load_library())
    assert library.errors == []
    assert [w.path for w in library.warnings] == ["steps[0].say"]
    assert f"'{phrase}'" in library.warnings[0].message and library.warnings[0].line == 12


def test_lint_matches_whole_words_only(tmp_path):
    routine_yaml = VALID.replace("  - say: Sit tall.\n", "  - say: Keep your painted toes relaxed; the hurt sign is gone.\n")
    library = load_library([write(tmp_path, routine_yaml)], base=load_library())
    assert library.problems == ()


def test_cli_check_shows_lint_warnings_but_exits_0(tmp_path, cli):
    path = write(tmp_path, VALID.replace("closing: That's all.", "closing: Time to stop."))
    result = cli("check", str(path))
    assert result.returncode == 0
    assert result.stderr.strip() == (
        f"{path}:10: closing: warning: spoken text contains the command phrase 'stop' (stop); "
        "the guide could hear itself, so reword it"
    )
