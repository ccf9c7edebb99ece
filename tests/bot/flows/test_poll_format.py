import json

import pytest

from bot.flows.poll_format import (
    YES_NO_LABELS,
    PollValidationError,
    import_poll_file,
    load_poll,
    load_poll_file,
    load_poll_text,
    poll_to_dict,
    poll_warnings,
    should_ask,
)

WATER_POINT_YAML = """
key: water-point
languages: [en, sw]
title: {en: Water point check, sw: Ukaguzi wa kisima}
end_message: {en: Thank you!, sw: Asante!}
questions:
  - key: works
    type: choice            # choice | multi_choice | yes_no | number | rating | text
    prompt: {en: "Is the water point working?", sw: "Je, kisima kinafanya kazi?"}
    sdg: ["6.1.1"]
    choices:
      - {value: "yes", label: {en: "Yes", sw: "Ndiyo"}}
      - {value: "no",  label: {en: "No",  sw: "Hapana"}}
  - key: days_broken
    type: number
    min: 0
    max: 365
    when: "works == 'no'"   # skip logic
    prompt: {en: "For how many days has it been broken?", sw: "Kimeharibika kwa siku ngapi?"}
  - key: needs
    type: multi_choice
    prompt: {en: "What do you need?", sw: "Mnahitaji nini?"}
    choices:
      - {value: water, label: {en: Clean water, sw: Maji safi}}
      - {value: food, label: {en: Food, sw: Chakula}}
  - key: safe
    type: yes_no
    prompt: {en: "Is it safe?", sw: "Je, ni salama?"}
    prompt_latin: {sw: "Je, ni salama?"}
    required: false
    when: "'water' in needs"
  - key: score
    type: rating
    prompt: {en: "Rate the service", sw: "Kadiria huduma"}
  - key: comment
    type: text
    prompt: {en: "Anything else?"}
"""


def valid_poll() -> dict:
    return {
        "key": "water-point",
        "languages": ["en", "sw"],
        "questions": [
            {
                "key": "works",
                "type": "choice",
                "prompt": {"en": "Working?", "sw": "Inafanya kazi?"},
                "choices": [
                    {"value": "yes", "label": {"en": "Yes", "sw": "Ndiyo"}},
                    {"value": "no", "label": {"en": "No", "sw": "Hapana"}},
                ],
            },
            {
                "key": "days",
                "type": "number",
                "min": 0,
                "max": 365,
                "prompt": {"en": "How many days?", "sw": "Siku ngapi?"},
            },
        ],
    }


def test_design_example_loads():
    poll = load_poll_text(WATER_POINT_YAML, fmt="yaml")
    assert poll.key == "water-point"
    assert poll.languages == ("en", "sw")
    assert [q.key for q in poll.questions] == [
        "works", "days_broken", "needs", "safe", "score", "comment",
    ]  # fmt: skip
    assert poll.question("works").sdg == ("6.1.1",)
    assert poll.question("days_broken").max == 365
    assert poll.question("safe").required is False
    assert poll.question("safe").prompt_latin == {"sw": "Je, ni salama?"}
    assert poll.end_message["sw"] == "Asante!"


def test_yaml_yes_and_no_stay_words():
    text = WATER_POINT_YAML.replace(
        '{value: "yes", label: {en: "Yes"', "{value: yes, label: {en: Yes"
    )
    poll = load_poll_text(
        text.replace('{value: "no",  label: {en: "No"', "{value: no, label: {en: No"), fmt="yaml"
    )
    assert [c.value for c in poll.question("works").choices] == ["yes", "no"]
    assert poll.question("works").choices[1].label["en"] == "No"


def test_yes_no_gets_default_choices_in_ten_languages():
    poll = load_poll_text(WATER_POINT_YAML, fmt="yaml")
    safe = poll.question("safe")
    assert [c.value for c in safe.choices] == ["yes", "no"]
    for language in ("en", "sw", "fr", "vi", "hi", "bn", "ne", "ny", "ha", "ar"):
        assert safe.choices[0].label[language] == YES_NO_LABELS["yes"][language]
        assert safe.choices[1].label[language]


def test_rating_is_one_to_five():
    score = load_poll_text(WATER_POINT_YAML, fmt="yaml").question("score")
    assert (score.min, score.max) == (1, 5)


def test_plain_string_texts_mean_the_first_language():
    data = valid_poll()
    data["questions"][1]["prompt"] = "How many days?"
    data["title"] = "Water"
    poll = load_poll(data)
    assert poll.question("days").prompt == {"en": "How many days?"}
    assert poll.title == {"en": "Water"}


def _set(path, value):
    def mutate(data):
        target = data
        for part in path[:-1]:
            target = target[part]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


_DELETE = object()
TWO = [{"value": "a", "label": "A"}, {"value": "b", "label": "B"}]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (_set(["key"], _DELETE), "key: required"),
        (_set(["key"], "Water Point"), "key: required"),
        (_set(["languages"], []), "languages: at least 1 language"),
        (_set(["languages"], ["en", "English"]), "languages[1]: 'English' is not an ISO 639"),
        (_set(["languages"], ["en", "sw", "en"]), "languages[2]: duplicate language 'en'"),
        (_set(["questions"], []), "questions: at least 1 question required"),
        (_set(["colour"], "red"), "poll: unknown field 'colour'"),
        (_set(["questions", 0, "type"], "dropdown"), "questions[0].type: 'dropdown' is not one"),
        (_set(["questions", 0, "colour"], 1), "questions[0]: unknown field 'colour'"),
        (_set(["questions", 1, "key"], "works"), "questions[1].key: duplicate question key"),
        (_set(["questions", 1, "key"], "days-broken"), "questions[1].key: required"),
        (_set(["questions", 1, "key"], "and"), "questions[1].key: required"),
        (_set(["questions", 1, "prompt"], _DELETE), "questions[1].prompt: required"),
        (
            _set(["questions", 1, "prompt"], {"sw": "Siku ngapi?"}),
            "questions[1].prompt: missing text in the first language (en)",
        ),
        (
            _set(["questions", 1, "prompt"], {"en": "Days", "fr": "Jours"}),
            "questions[1].prompt.fr: language is not in the poll's languages",
        ),
        (_set(["questions", 1, "prompt", "en"], "  "), "questions[1].prompt.en: must be non-empty"),
        (
            _set(["questions", 0, "choices"], [TWO[0]]),
            "questions[0].choices: at least 2 choices required",
        ),
        (_set(["questions", 0, "choices"], _DELETE), "questions[0].choices: at least 2 choices"),
        (
            _set(["questions", 0, "choices"], [TWO[0], {"value": "a", "label": "Other"}]),
            "questions[0].choices[1].value: duplicate value 'a'",
        ),
        (
            _set(["questions", 0, "choices"], [TWO[0], {"value": "c", "label": "a"}]),
            "questions[0].choices[1].label.en: duplicate label 'a'",
        ),
        (
            _set(["questions", 0, "choices"], [TWO[0], {"value": True, "label": "B"}]),
            "questions[0].choices[1].value: required",
        ),
        (
            _set(["questions", 0, "choices"], [TWO[0], {"value": "b"}]),
            "questions[0].choices[1].label: required",
        ),
        (
            _set(["questions", 1, "choices"], TWO),
            "questions[1].choices: not allowed for type number",
        ),
        (
            _set(["questions", 1, "min"], 400),
            "questions[1].min: min (400) is greater than max (365)",
        ),
        (_set(["questions", 1, "max"], "lots"), "questions[1].max: must be a number"),
        (_set(["questions", 1, "max"], float("inf")), "questions[1].max: must be a number"),
        (_set(["questions", 0, "min"], 1), "questions[0].min: not allowed for type choice"),
        (_set(["questions", 1, "required"], "yes"), "questions[1].required: must be true or false"),
        (_set(["questions", 1, "when"], "works = 'no'"), "questions[1].when: unexpected"),
        (_set(["questions", 1, "when"], "colour == 'no'"), "'colour' is not an earlier question"),
        (_set(["questions", 0, "when"], "days > 3"), "questions[0].when: 'days' is not an earlier"),
        (_set(["questions", 1, "when"], "days > 3"), "'days' refers to this question itself"),
        (_set(["questions", 1, "when"], "works == 'maybe'"), "'maybe' is not a choice of 'works'"),
        (
            _set(["questions", 1, "when"], "works in ['no', 'nah']"),
            "'nah' is not a choice of 'works'",
        ),
        (_set(["questions", 1, "sdg"], ["6.1"]), "questions[1].sdg[0]: '6.1' is not an SDG"),
        (_set(["questions", 1, "sdg"], ["18.1.1"]), "questions[1].sdg[0]: '18.1.1' is not"),
        (_set(["questions", 1, "sdg"], {"a": 1}), "questions[1].sdg: must be a list"),
        (_set(["questions", 0, "type"], "rating"), "questions[0].choices: not allowed"),
        (_set(["title"], {"sw": "Maji"}), "title: missing text in the first language (en)"),
        (_set(["end_message"], 42), "end_message: must be text or a mapping"),
    ],
)
def test_validator_names_the_location(mutate, problem):
    data = valid_poll()
    mutate(data)
    with pytest.raises(PollValidationError) as caught:
        load_poll(data)
    assert any(p.startswith(problem) or problem in p for p in caught.value.problems), (
        caught.value.problems
    )


def test_yes_no_choices_must_be_yes_then_no():
    data = valid_poll()
    data["questions"][0]["type"] = "yes_no"
    assert [c.value for c in load_poll(data).questions[0].choices] == ["yes", "no"]
    data["questions"][0]["choices"].reverse()
    with pytest.raises(PollValidationError, match=r"questions\[0\].choices: yes_no choices"):
        load_poll(data)


def test_every_problem_is_reported_at_once():
    data = valid_poll()
    data["key"] = "Bad Key"
    data["questions"][0]["choices"] = data["questions"][0]["choices"][:1]
    data["questions"][1]["min"] = 500
    data["questions"][1]["sdg"] = ["nope"]
    with pytest.raises(PollValidationError) as caught:
        load_poll(data)
    problems = caught.value.problems
    assert len(problems) == 4
    assert str(caught.value) == "\n".join(problems)
    assert {p.split(":")[0] for p in problems} == {
        "key", "questions[0].choices", "questions[1].min", "questions[1].sdg[0]",
    }  # fmt: skip


def test_valid_poll_has_no_problems_and_warns_about_translations():
    poll = load_poll_text(WATER_POINT_YAML, fmt="yaml")
    assert poll_warnings(poll) == ["questions[5].prompt: no translation for sw"]


def test_not_a_mapping():
    with pytest.raises(PollValidationError, match="must be a mapping"):
        load_poll_text("- just\n- a list\n", fmt="yaml")


def test_bad_syntax_is_a_validation_error():
    with pytest.raises(PollValidationError, match="not valid JSON"):
        load_poll_text("{", fmt="json")
    with pytest.raises(PollValidationError, match="not valid YAML"):
        load_poll_text("key: [unclosed", fmt="yaml")
    with pytest.raises(PollValidationError, match="unknown format"):
        load_poll_text("{}", fmt="toml")


def test_round_trip_through_dict_and_json():
    poll = load_poll_text(WATER_POINT_YAML, fmt="yaml")
    stored = json.loads(json.dumps(poll_to_dict(poll)))
    assert load_poll(stored) == poll
    assert "choices" not in stored["questions"][3]  # default yes/no labels are implied
    assert "min" not in stored["questions"][4]  # as is the rating scale


def test_files(tmp_path):
    (tmp_path / "poll.yaml").write_text(WATER_POINT_YAML, encoding="utf-8")
    poll = load_poll_file(tmp_path / "poll.yaml")
    (tmp_path / "poll.json").write_text(json.dumps(poll_to_dict(poll)), encoding="utf-8")
    assert load_poll_file(tmp_path / "poll.json") == poll
    imported = import_poll_file(tmp_path / "poll.json")
    assert imported.warnings == poll_warnings(poll)
    (tmp_path / "poll.txt").write_text("x", encoding="utf-8")
    with pytest.raises(PollValidationError, match="unsupported file type"):
        load_poll_file(tmp_path / "poll.txt")
    with pytest.raises(PollValidationError, match="cannot read"):
        load_poll_file(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("answers", "asked"),
    [({"works": "no"}, True), ({"works": "yes"}, False), ({}, False)],
)
def test_should_ask_follows_when(answers, asked):
    poll = load_poll_text(WATER_POINT_YAML, fmt="yaml")
    assert should_ask(poll.question("days_broken"), answers) is asked
    assert should_ask(poll.question("works"), answers) is True
