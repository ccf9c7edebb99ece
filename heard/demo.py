"""`heard demo`: a seeded organisation, served with the simulator, in one process.

Seeding is idempotent (run it twice, get one of everything). The coordinator's password
is new on every run and printed, so a demo left reachable does not keep a known password.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from bot.commitments import add_commitment, add_dialogue
from bot.flows.poll_format import load_poll
from bot.polls import save_poll
from heard.config import Settings
from storage import models as m

DEMO_SLUG = "demo"
DEMO_EMAIL = "coordinator@demo.heard.example"

DEMO_POLL = {
    "key": "water-point",
    "title": {"en": "Water point check", "sw": "Ukaguzi wa kisima"},
    "languages": ["en", "sw"],
    "questions": [
        {
            "key": "works",
            "type": "choice",
            "prompt": {"en": "Is the water point working?", "sw": "Je, kisima kinafanya kazi?"},
            "choices": [
                {"value": "yes", "label": {"en": "Yes", "sw": "Ndiyo"}},
                {"value": "no", "label": {"en": "No", "sw": "Hapana"}},
            ],
            "sdg": ["6.1.1"],
        },
        {
            "key": "days_broken",
            "type": "number",
            "min": 0,
            "max": 365,
            "when": "works == 'no'",
            "prompt": {
                "en": "For how many days has it been broken?",
                "sw": "Kimeharibika kwa siku ngapi?",
            },
        },
        {
            "key": "queue_minutes",
            "type": "number",
            "min": 0,
            "max": 600,
            "prompt": {
                "en": "How many minutes did you queue for water today?",
                "sw": "Ulipanga foleni kwa dakika ngapi leo kupata maji?",
            },
        },
    ],
    "end_message": {
        "en": "Thank you! Your answers help hold the water office to its word.",
        "sw": "Asante! Majibu yako yanasaidia ofisi ya maji kutimiza ahadi yake.",
    },
}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


def seed(settings: Settings) -> DemoLogin:
    from admin.auth import hash_password
    from storage.db import Database

    db = Database(settings.database_url)
    password = secrets.token_urlsafe(9)
    try:
        with db.session() as session:
            organisation = _organisation(session)
            _channels(session, organisation, settings)
            user = session.scalar(sa.select(m.User).where(m.User.email == DEMO_EMAIL))
            if user is None:
                user = m.User(
                    organisation_id=organisation.id,
                    email=DEMO_EMAIL,
                    name="Demo Coordinator",
                    role="owner",
                    password_hash="",
                )
                session.add(user)
            user.password_hash = hash_password(password)
            save_poll(session, organisation.id, load_poll(DEMO_POLL))
            _group(session, organisation)
            _commitment(session, organisation)
    finally:
        db.dispose()
    return DemoLogin(DEMO_EMAIL, password)


def _organisation(session) -> m.Organisation:
    organisation = session.scalar(sa.select(m.Organisation).where(m.Organisation.slug == DEMO_SLUG))
    if organisation is None:
        organisation = m.Organisation(
            slug=DEMO_SLUG,
            name="Ngiluni Community Voices",
            default_region="KE",
            default_language="en",
            languages=["en", "sw"],
            timezone="Africa/Nairobi",
            settings={"join_poll": "water-point"},
        )
        session.add(organisation)
        session.flush()
    return organisation


def _channels(session, organisation: m.Organisation, settings: Settings) -> None:
    """Provider credentials in the environment become the demo organisation's channels."""
    wanted = []
    if settings.twilio:
        kind = "whatsapp" if settings.twilio.from_number.startswith("whatsapp:") else "sms"
        wanted.append(("twilio", kind, settings.twilio.from_number))
    if settings.africastalking:
        wanted.append(("africastalking", "sms", settings.africastalking.sender_id or "default"))
    for provider, kind, address in wanted:
        exists = session.scalar(
            sa.select(m.Channel).where(m.Channel.provider == provider, m.Channel.address == address)
        )
        if exists is None:
            session.add(
                m.Channel(
                    organisation_id=organisation.id,
                    provider=provider,
                    kind=kind,
                    address=address,
                    config={"credentials": "environment"},
                )
            )


def _group(session, organisation: m.Organisation) -> None:
    name = "Ngiluni Women's Group"
    exists = session.scalar(
        sa.select(m.Group).where(m.Group.organisation_id == organisation.id, m.Group.name == name)
    )
    if exists is None:
        session.add(
            m.Group(organisation_id=organisation.id, name=name, kind="women", village="Ngiluni")
        )


def _commitment(session, organisation: m.Organisation) -> None:
    title = "Ngiluni water dialogue"
    dialogue = session.scalar(
        sa.select(m.Dialogue).where(
            m.Dialogue.organisation_id == organisation.id, m.Dialogue.title == title
        )
    )
    if dialogue is not None:
        return
    held = date.today() - timedelta(days=14)
    dialogue = add_dialogue(
        session,
        organisation.id,
        title=title,
        held_on=held,
        place="Ngiluni primary school",
        officials=["County water officer", "Ward administrator"],
        notes="Community raised the broken borehole and long queues.",
    )
    # Through the same path as the panel and the CLI, so the demo commitment has its
    # re-poll poll and plan: the tracker and scorecard show rounds as they come due.
    add_commitment(
        session,
        dialogue_id=dialogue.id,
        duty_bearer="County water office",
        description="Rehabilitate the Ngiluni borehole",
        short_name={"en": "the Ngiluni borehole repair", "sw": "ukarabati wa kisima cha Ngiluni"},
        due_on=held + timedelta(days=90),
        audience={"villages": ["Ngiluni"]},
        organisation_id=organisation.id,
    )


def run(settings: Settings, *, host: str, port: int) -> None:
    """The web app, an outbox worker and the scheduler, in one process."""
    from heard.app import create_app
    from heard.services import Services

    services = Services.build(settings)
    app = create_app(settings, services=services)
    stop = threading.Event()
    background = [
        threading.Thread(target=_worker, args=(services, stop), name="outbox", daemon=True),
        threading.Thread(target=_scheduler, args=(services, stop), name="scheduler", daemon=True),
    ]
    for thread in background:
        thread.start()
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        stop.set()
        for thread in background:
            thread.join(timeout=5)


def _worker(services, stop: threading.Event) -> None:
    from sms_gateway.worker import run_worker

    run_worker(services, stop=stop)


def _scheduler(services, stop: threading.Event) -> None:
    from bot.scheduler import run_scheduler

    run_scheduler(services, stop=stop)
