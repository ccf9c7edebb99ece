"""`heard nlu ...`: install, train and serve Rasa; parse and evaluate replies.

Rasa 3.6 needs Python 3.10 while Heard runs on 3.11+, so Rasa lives in its own venv under
`settings.rasa_home`, installed from pinned constraints so every machine gets the same one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from nlu import build_interpreter
from nlu.evaluation import evaluate, format_report, read_cases
from nlu.interpretation import ChoiceOption
from nlu.interpreter import BuiltinInterpreter

RASA_VERSION = "3.6.21"
PROJECT = Path(__file__).parent / "rasa"
CONSTRAINTS = PROJECT / "constraints.txt"


def find_python310() -> str | None:
    """A Python 3.10 interpreter: on PATH, or from pyenv."""
    found = shutil.which("python3.10")
    if found and _is_310(found):
        return found
    pyenv = shutil.which("pyenv")
    roots = [Path(os.path.expanduser("~/.pyenv"))]
    if pyenv:
        result = subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False)
        if result.returncode == 0 and result.stdout.strip():
            roots.insert(0, Path(result.stdout.strip()))
    for root in roots:
        for candidate in sorted((root / "versions").glob("3.10*/bin/python3.10"), reverse=True):
            if _is_310(str(candidate)):
                return str(candidate)
    return None


def _is_310(python: str) -> bool:
    probe = [python, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"]
    result = subprocess.run(probe, capture_output=True, text=True, check=False)
    return result.stdout.strip() == "True"


def model_key() -> str:
    """A hash of what shapes the model, so an unchanged project is never retrained."""
    digest = hashlib.sha256()
    for path in (PROJECT / "config.yml", PROJECT / "domain.yml", PROJECT / "data" / "nlu.yml"):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(RASA_VERSION.encode())
    return digest.hexdigest()[:16]


def model_path(rasa_home: Path) -> Path:
    return Path(rasa_home) / "models" / f"heard-nlu-{model_key()}.tar.gz"


def _venv_rasa(rasa_home: Path) -> Path:
    return Path(rasa_home) / "venv" / "bin" / "rasa"


def _installed_version(rasa_home: Path) -> str | None:
    python = Path(rasa_home) / "venv" / "bin" / "python"
    if not python.exists():
        return None
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('rasa'))"]
    result = subprocess.run(probe, capture_output=True, text=True, check=False)
    return result.stdout.strip() or None if result.returncode == 0 else None


@click.group("nlu")
def nlu_group() -> None:
    """Language understanding: the built-in interpreter and the Rasa server."""


@nlu_group.command("install")
@click.pass_obj
def install(obj) -> None:
    """Create the Rasa venv (Python 3.10) and install the pinned Rasa into it."""
    home = Path(obj.settings.rasa_home)
    if _installed_version(home) == RASA_VERSION:
        click.echo(f"rasa {RASA_VERSION} already installed in {home / 'venv'}")
        return
    python = find_python310()
    if python is None:
        raise click.ClickException("Rasa 3.6 needs Python 3.10: none found on PATH or in pyenv")
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([python, "-m", "venv", str(home / "venv")], check=True)
    pip = [str(home / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, f"rasa=={RASA_VERSION}", "-c", str(CONSTRAINTS)], check=True)
    click.echo(f"rasa {RASA_VERSION} installed in {home / 'venv'}")


@nlu_group.command("train")
@click.pass_obj
def train(obj) -> None:
    """Train the NLU model, keyed by a hash of config and data (skipped when it exists)."""
    home = Path(obj.settings.rasa_home)
    target = model_path(home)
    if target.exists():
        click.echo(f"model up to date: {target}")
        return
    rasa = _venv_rasa(home)
    if not rasa.exists():
        raise click.ClickException("Rasa is not installed: run `heard nlu install` first")
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(rasa),
        "train",
        "nlu",
        "--config",
        str(PROJECT / "config.yml"),
        "--domain",
        str(PROJECT / "domain.yml"),
        "--nlu",
        str(PROJECT / "data" / "nlu.yml"),
        "--out",
        str(target.parent),
        "--fixed-model-name",
        target.name.removesuffix(".tar.gz"),
    ]
    # Rasa writes its `.rasa/cache` into the working directory: keep it out of the source tree.
    subprocess.run(command, check=True, cwd=home)
    click.echo(f"trained {target}")


@nlu_group.command("serve")
@click.option("--port", default=5005, show_default=True, type=int)
@click.pass_obj
def serve(obj, port: int) -> None:
    """Run the Rasa server on 127.0.0.1 with the current model (foreground)."""
    home = Path(obj.settings.rasa_home)
    target = model_path(home)
    if not target.exists():
        raise click.ClickException("no model for the current data: run `heard nlu train` first")
    rasa = str(_venv_rasa(home))
    args = [rasa, "run", "--enable-api", "-p", str(port), "-i", "127.0.0.1", "--model", str(target)]
    os.execv(rasa, args)


@nlu_group.command("parse")
@click.argument("text")
@click.option("--language", default=None, help="The participant's known language.")
@click.option("--choices", default=None, help="Comma-separated choice values.")
@click.pass_obj
def parse(obj, text: str, language: str | None, choices: str | None) -> None:
    """Print one JSON object per reply (TEXT, or '-' for one reply per line on stdin)."""
    interpreter = build_interpreter(obj.settings.rasa_url)
    options = None
    if choices:
        options = tuple(ChoiceOption(v.strip()) for v in choices.split(",") if v.strip())
    replies = (line.rstrip("\n") for line in sys.stdin) if text == "-" else iter([text])
    for reply in replies:
        result = interpreter.parse(reply, language, options).as_json()
        if options is None:
            result.pop("choice")
        click.echo(json.dumps(result, ensure_ascii=False))


@nlu_group.command("eval")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def evaluate_command(obj, file: Path) -> None:
    """Accuracy per language: built-in, Rasa (when configured) and plain langdetect."""
    cases = read_cases(file)
    systems = {"builtin": BuiltinInterpreter()}
    if obj.settings.rasa_url:
        from nlu.rasa_client import RasaClient, RasaInterpreter

        client = RasaClient(obj.settings.rasa_url, timeout=5.0)
        systems["rasa"] = RasaInterpreter(client, BuiltinInterpreter())
        systems["combined"] = build_interpreter(obj.settings.rasa_url, timeout=5.0)
    click.echo(format_report(evaluate(cases, systems)))


if __name__ == "__main__":
    # Stand-in settings until `heard` registers this group; the only env reading here.
    from types import SimpleNamespace

    _settings = SimpleNamespace(
        rasa_url=os.environ.get("HEARD_RASA_URL") or None,
        rasa_home=Path(os.environ.get("HEARD_RASA_HOME", "~/.cache/heard/rasa")).expanduser(),
    )
    nlu_group(obj=SimpleNamespace(settings=_settings))
