"""The `nlu` click group, driven with a stand-in settings object."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlu import cli
from nlu.cli import model_key, model_path, nlu_group
from nlu.training import NLU_YML, TRAIN_CSV, examples, render_csv, render_nlu_yml

DEV_SET = Path("/work/shared/data/replies-dev.csv")
TEST_SET = Path(cli.__file__).parent / "data" / "replies-test.csv"


def run(obj, *args: str, stdin: str | None = None):
    return CliRunner().invoke(nlu_group, list(args), obj=obj, input=stdin)


def test_parse_prints_one_json_object(obj) -> None:
    result = run(obj, "parse", "mia tano")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload == {
        "text": "mia tano",
        "intent": "number",
        "confidence": 0.95,
        "language": "sw",
        "number": 500,
    }


def test_parse_with_choices_and_language(obj) -> None:
    result = run(obj, "parse", "2", "--language", "sw", "--choices", "yes,no,dont_know")
    payload = json.loads(result.output)
    assert payload["choice"] == "no"
    assert payload["language"] == "sw"


def test_parse_stdin_one_object_per_line(obj) -> None:
    result = run(obj, "parse", "-", stdin="ndiyo\nSTOP\nhai mươi lăm\n")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["intent"] for line in lines] == ["affirm", "stop", "number"]
    assert lines[2]["number"] == 25


def test_parse_uses_rasa_when_configured(obj, fake_rasa) -> None:
    obj.settings.rasa_url = fake_rasa.url
    fake_rasa.intent, fake_rasa.confidence = "help", 0.9
    payload = json.loads(run(obj, "parse", "the pump makes a strange noise").output)
    assert payload["intent"] == "help"
    assert fake_rasa.calls == 1


@pytest.mark.parametrize("path", [DEV_SET, TEST_SET], ids=["dev", "test"])
def test_eval_meets_the_targets(obj, path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} not present")
    result = run(obj, "eval", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    overall = {line.split(":")[0]: line for line in lines if line.startswith("overall")}

    def pct(line: str, field: str) -> float:
        return float(line.split(field)[1].split("%")[0])

    builtin = overall["overall builtin"]
    assert pct(builtin, "intent") >= 97.0
    assert pct(builtin, "number") >= 95.0
    assert pct(builtin, "language") >= 95.0
    assert pct(builtin, "language") > pct(overall["overall langdetect"], "language")


def test_train_needs_install(obj) -> None:
    result = run(obj, "train")
    assert result.exit_code != 0
    assert "nlu install" in result.output


def test_serve_needs_model(obj) -> None:
    result = run(obj, "serve", "--port", "5999")
    assert result.exit_code != 0
    assert "nlu train" in result.output


def test_train_skips_existing_model(obj) -> None:
    target = model_path(obj.settings.rasa_home)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"model")
    result = run(obj, "train")
    assert result.exit_code == 0
    assert "up to date" in result.output


def test_model_key_follows_the_data() -> None:
    assert model_key() == model_key()
    assert len(model_key()) == 16


def test_install_fails_in_one_line_without_python310(obj, monkeypatch) -> None:
    monkeypatch.setattr(cli, "find_python310", lambda: None)
    result = run(obj, "install")
    assert result.exit_code != 0
    assert result.output.strip().count("\n") == 0
    assert "Python 3.10" in result.output


def test_training_files_are_generated_from_the_lexicon() -> None:
    rows = examples()
    assert TRAIN_CSV.read_text(encoding="utf-8") == render_csv(rows), "run python -m nlu.training"
    assert NLU_YML.read_text(encoding="utf-8") == render_nlu_yml(rows)
    intents = {intent for _, _, intent in rows}
    assert intents == {"affirm", "deny", "stop", "start", "help", "number"}


def test_held_out_set_is_not_trained_on() -> None:
    trained = {text for text, _, _ in examples()}
    with open(TEST_SET, encoding="utf-8", newline="") as handle:
        texts = {row["text"] for row in csv.DictReader(handle)}
    assert len(texts) > 100
    assert not trained & texts
