import io

import openpyxl
import pytest

from bot.flows.poll_format import PollValidationError, import_poll_file, load_poll
from bot.flows.xlsform import XLSFormError, import_xlsform, language_code, relevant_to_when

SURVEY_HEADER = ["type", "name", "label::English (en)", "label::Kiswahili (sw)", "relevant"]
CHOICES = [
    ["list_name", "name", "label::English (en)", "label::Kiswahili (sw)"],
    ["yn", "yes", "Yes", "Ndiyo"],
    ["yn", "no", "No", "Hapana"],
    ["needs", "water", "Clean water", "Maji safi"],
    ["needs", "food", "Food", "Chakula"],
    ["needs", "school", "School", "Shule"],
]
SETTINGS = [["form_id", "form_title", "default_language"], ["Water_Point", "Water point", None]]


def workbook(survey, choices=CHOICES, settings=SETTINGS, header=SURVEY_HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    sheet.append(header)
    for row in survey:
        sheet.append(row)
    for title, rows in (("choices", choices), ("settings", settings)):
        if rows is None:
            continue
        extra = book.create_sheet(title)
        for row in rows:
            extra.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def convert(survey, **kwargs):
    return import_xlsform(workbook(survey, **kwargs))


def test_water_point_form_converts_and_loads(tmp_path):
    survey = [
        ["select_one yn", "works", "Is it working?", "Kinafanya kazi?", None],
        ["integer", "days", "Days broken?", "Siku ngapi?", "${works} = 'no'"],
        ["select_multiple needs", "needs", "Needs?", "Mahitaji?", None],
        ["text", "comment", "Anything else?", "Kitu kingine?", "selected(${needs}, 'water')"],
    ]
    result = convert(survey)
    assert result.not_converted == []
    poll = load_poll(result.poll)
    assert poll.key == "water_point"
    assert poll.languages == ("en", "sw")
    assert poll.title == {"en": "Water point"}
    works, days, needs, comment = poll.questions
    assert (works.type, [c.value for c in works.choices]) == ("choice", ["yes", "no"])
    assert works.prompt == {"en": "Is it working?", "sw": "Kinafanya kazi?"}
    assert works.choices[1].label == {"en": "No", "sw": "Hapana"}
    assert (days.type, days.when) == ("number", "works == 'no'")
    assert needs.type == "multi_choice"
    assert [c.label["sw"] for c in needs.choices] == ["Maji safi", "Chakula", "Shule"]
    assert (comment.type, comment.when) == ("text", "'water' in needs")

    path = tmp_path / "water.xlsx"
    path.write_bytes(workbook(survey))
    imported = import_poll_file(path)
    assert imported.definition == poll
    # XLSForm has one form_title; the other languages fall back to it.
    assert imported.warnings == ["title: no translation for sw"]


@pytest.mark.parametrize(
    ("constraint", "qtype", "bounds"),
    [
        (". >= 0 and . <= 365", "integer", {"min": 0, "max": 365}),
        ("(. >= 1) and (. <= 10)", "integer", {"min": 1, "max": 10}),
        (". > 0", "integer", {"min": 1}),
        (". < 100", "integer", {"max": 99}),
        ("0 <= .", "integer", {"min": 0}),
        (". >= 0.5 and . <= 2.5", "decimal", {"min": 0.5, "max": 2.5}),
    ],
)
def test_simple_constraints_become_min_max(constraint, qtype, bounds):
    header = [*SURVEY_HEADER, "constraint"]
    result = convert([[qtype, "n", "How many?", "Ngapi?", None, constraint]], header=header)
    question = result.poll["questions"][0]
    assert {k: question[k] for k in ("min", "max") if k in question} == bounds
    assert result.not_converted == []
    load_poll(result.poll)


@pytest.mark.parametrize(
    "constraint", [". > 0", ". >= 0 or . <= 5", "regex(., '^[0-9]+$')", ". != 3"]
)
def test_other_constraints_are_listed(constraint):
    header = [*SURVEY_HEADER, "constraint"]
    result = convert([["decimal", "n", "How much?", "Kiasi?", None, constraint]], header=header)
    assert "min" not in result.poll["questions"][0]
    assert result.not_converted == [
        f"survey row 2 (n): constraint {constraint!r} not converted "
        "(only '. >= a and . <= b' style limits are)"
    ]


@pytest.mark.parametrize(
    ("relevant", "when"),
    [
        ("${works} = 'no'", "works == 'no'"),
        ("${works} != 'no'", "works != 'no'"),
        ("${days} > 3", "days > 3"),
        ("${days} >= 3 and ${works} = 'no'", "days >= 3 and works == 'no'"),
        ("${days} < 3 or ${days} > 30", "days < 3 or days > 30"),
        ("not(${works} = 'yes')", "not (works == 'yes')"),
        ("selected(${needs}, 'food')", "'food' in needs"),
        ("not(selected(${needs},'food'))", "not ('food' in needs)"),
        ("(${works} = 'no') and (${days} > 1)", "(works == 'no') and (days > 1)"),
        ("${works} != ''", "works != null"),
        ("${works} = ''", "works == null"),
        ("true()", "true"),
    ],
)
def test_relevant_to_when(relevant, when):
    keys = {"works": "works", "days": "days", "needs": "needs"}
    assert relevant_to_when(relevant, keys) == when


@pytest.mark.parametrize(
    "relevant",
    [
        "count-selected(${needs}) > 1",
        "${days} + 1 > 3",
        "string-length(${works}) > 0",
        "${later} = 'x'",
        ". > 3",
        "${works} = 'no' and",
    ],
)
def test_relevant_that_cannot_become_when(relevant):
    with pytest.raises(ValueError):
        relevant_to_when(relevant, {"works": "works", "days": "days", "needs": "needs"})


def test_unconvertible_relevant_is_listed_and_question_kept():
    survey = [
        ["select_multiple needs", "needs", "Needs?", "Mahitaji?", None],
        ["text", "why", "Why?", "Kwa nini?", "count-selected(${needs}) > 1"],
    ]
    result = convert(survey)
    assert [q["key"] for q in result.poll["questions"]] == ["needs", "why"]
    assert "when" not in result.poll["questions"][1]
    assert result.not_converted == [
        "survey row 3 (why): relevant 'count-selected(${needs}) > 1' not converted "
        "('count-selected' is not supported)",
        "survey row 3 (why): asked without its condition",
    ]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (["geopoint", "where", "Where?", "Wapi?", None], "type 'geopoint' not converted"),
        (["image", "photo", "Photo", "Picha", None], "type 'image' not converted"),
        (["calculate", "total", None, None, None], "type 'calculate' not converted"),
        (["date", "when", "Date?", "Tarehe?", None], "type 'date' not converted"),
        (["start", "start", None, None, None], "type 'start' not converted"),
        (["note", "intro", "Welcome", "Karibu", None], "note not converted"),
        (["select_one nolist", "x", "X?", "X?", None], "choice list 'nolist' not found"),
    ],
)
def test_unconvertible_rows_are_listed_with_row_numbers(row, expected):
    survey = [["text", "name", "Name?", "Jina?", None], row]
    result = convert(survey)
    assert [q["key"] for q in result.poll["questions"]] == ["name"]
    assert len(result.not_converted) == 1
    assert result.not_converted[0].startswith(f"survey row 3 ({row[1]}): ")
    assert expected in result.not_converted[0]


def test_repeats_are_listed_with_their_questions():
    survey = [
        ["text", "name", "Name?", "Jina?", None],
        ["begin repeat", "members", "Members", "Wanachama", None],
        ["text", "member", "Member name?", "Jina la mwanachama?", None],
        ["end repeat", None, None, None, None],
        ["integer", "age", "Age?", "Umri?", None],
    ]
    result = convert(survey)
    assert [q["key"] for q in result.poll["questions"]] == ["name", "age"]
    assert result.not_converted == [
        "survey row 3 (members): repeat not converted, nor the questions in it",
        "survey row 4 (member): inside a repeat, not converted",
    ]


def test_groups_are_flattened_and_their_relevant_kept():
    survey = [
        ["select_one yn", "works", "Working?", "Inafanya?", None],
        ["begin group", "broken", "Broken", "Imeharibika", "${works} = 'no'"],
        ["integer", "days", "Days?", "Siku?", None],
        ["text", "cause", "Cause?", "Sababu?", "${days} > 7"],
        ["end group", None, None, None, None],
        ["text", "comment", "Comment?", "Maoni?", None],
    ]
    result = convert(survey)
    poll = load_poll(result.poll)
    assert [q.key for q in poll.questions] == ["works", "days", "cause", "comment"]
    assert poll.question("days").when == "works == 'no'"
    assert poll.question("cause").when == "(works == 'no') and (days > 7)"
    assert poll.question("comment").when is None
    assert result.not_converted == [
        "survey row 3 (broken): group flattened, its questions are asked in order"
    ]


def test_plain_label_and_language_names():
    header = ["type", "name", "label", "label::French", "label::Hausa (ha)"]
    choices = [["list_name", "name", "label", "label::French"], ["c", "a", "A", "A fr"]]
    choices.append(["c", "b", "B", "B fr"])
    survey = [["select_one c", "pick", "Pick", "Choisir", "Zaɓi"]]
    settings = [["form_id", "default_language"], ["pick", "English (en)"]]
    result = convert(survey, choices=choices, settings=settings, header=header)
    assert result.poll["languages"] == ["en", "fr", "ha"]
    question = result.poll["questions"][0]
    assert question["prompt"] == {"en": "Pick", "fr": "Choisir", "ha": "Zaɓi"}
    assert question["choices"][0]["label"] == {"en": "A", "fr": "A fr"}
    assert result.not_converted == []


def test_unknown_language_column_and_extra_columns_are_listed():
    header = [*SURVEY_HEADER, "label::Klingon", "hint::English (en)", "appearance"]
    survey = [["text", "name", "Name?", "Jina?", None, "tlhIngan?", "Full name", "multiline"]]
    result = convert(survey, header=header)
    assert result.not_converted == [
        "survey row 2 (name): column 'label::Klingon' has no language code like 'Name (xx)'",
        "survey: column 'appearance' not converted",
        "survey: column 'hint::English (en)' not converted",
    ]


def test_range_one_to_five_is_a_rating():
    header = [*SURVEY_HEADER, "parameters"]
    survey = [
        ["range", "score", "Score?", "Alama?", None, "start=1 end=5 step=1"],
        ["range", "pct", "Percent?", "Asilimia?", None, "start=0 end=100 step=10"],
    ]
    result = convert(survey, header=header)
    assert [q["type"] for q in result.poll["questions"]] == ["rating", "number"]
    pct = result.poll["questions"][1]
    assert (pct["min"], pct["max"]) == (0, 100)
    assert result.not_converted == ["survey row 3 (pct): range step 10 not converted"]


def test_required_and_renamed_names():
    header = [*SURVEY_HEADER, "required"]
    survey = [
        ["text", "full-name", "Name?", "Jina?", None, "yes"],
        ["text", "village", "Village?", "Kijiji?", "${full-name} != ''", None],
    ]
    result = convert(survey, header=header)
    first, second = result.poll["questions"]
    assert (first["key"], first["required"]) == ("full_name", True)
    assert (second["required"], second["when"]) == (False, "full_name != null")
    assert result.not_converted == [
        "survey row 2 (full-name): name 'full-name' renamed to 'full_name'"
    ]


def test_settings_extras_are_listed_and_key_falls_back_to_file_name(tmp_path):
    settings = [["form_title", "submission_url"], ["Trees", "https://example.org/submit"]]
    path = tmp_path / "Tree Planting.xlsx"
    path.write_bytes(workbook([["integer", "trees", "Trees?", "Miti?", None]], settings=settings))
    result = import_xlsform(path)
    assert result.poll["key"] == "tree-planting"
    assert result.poll["title"] == {"en": "Trees"}
    assert result.not_converted == ["settings: 'submission_url' not converted"]


def test_import_poll_file_reports_losses_as_warnings_and_failures_as_problems(tmp_path):
    good = tmp_path / "good.xlsx"
    good.write_bytes(
        workbook(
            [
                ["text", "name", "Name?", None, None],
                ["geopoint", "where", "Where?", "Wapi?", None],
            ]
        )
    )
    imported = import_poll_file(good)
    assert imported.warnings == [
        "not converted: survey row 3 (where): type 'geopoint' not converted",
        "title: no translation for sw",
        "questions[0].prompt: no translation for sw",
    ]
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(workbook([["geopoint", "where", "Where?", "Wapi?", None]]))
    with pytest.raises(PollValidationError) as caught:
        import_poll_file(bad)
    assert caught.value.problems == [
        "questions: at least 1 question required",
        "not converted: survey row 2 (where): type 'geopoint' not converted",
    ]


def test_not_a_workbook():
    with pytest.raises(XLSFormError):
        import_xlsform(b"this is not a spreadsheet")


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("English (en)", "en"),
        ("Kiswahili (sw)", "sw"),
        ("Swahili", "sw"),
        ("Français", "fr"),
        ("Nepali (ne-NP)", "ne"),
        ("sw", "sw"),
        ("Klingon", None),
    ],
)
def test_language_code(name, code):
    assert language_code(name) == code
