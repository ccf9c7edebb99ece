"""Results: charts per question, disaggregation with small cells suppressed, free text
(masked for analysts), response rate, progress-report totals."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from admin import charts, tally
from bot.flows.poll_format import load_poll
from bot.polls import save_poll
from storage import models as m
from tests.admin.polls_seed import NOW, poll_id, seed_answers, seed_participants


def _seed_water(db, organisation_id: int) -> None:
    women = seed_participants(db, organisation_id, 6, group="Women", gender="female")
    men = seed_participants(db, organisation_id, 3, group="Men", start=50, gender="male")
    seed_answers(db, organisation_id, "water-point", women, {"works": "no", "days_broken": 12})
    seed_answers(
        db, organisation_id, "water-point", men[:2], {"works": "yes"}, when=NOW + timedelta(days=1)
    )


def test_choice_chart_and_suppressed_disaggregation(login_as, organisation, db):
    _seed_water(db, organisation.id)
    client = login_as(organisation.id, "analyst")
    html = client.get(f"/polls/{poll_id(db, organisation.id)}/results").get_data(as_text=True)
    svg = re.search(r'<section class="card result" id="question-works">.*?</svg>', html, re.S)
    assert svg is not None
    assert ">Yes</text>" in svg.group() and ">No</text>" in svg.group()
    # Only the 2 men said yes and only the 6 women said no: the bars "Yes: 2" and "No: 6"
    # next to the women's 0 and the men's 0 would give the hidden cells away, so they are
    # hidden too (complementary suppression), and so are the women's 6 and their n.
    assert "<title>No: 6</title>" not in svg.group() and "<title>Yes: 2</title>" not in svg.group()
    assert "would let such a group be worked out</title>" in svg.group()
    works = html[html.index('id="question-works"') : html.index('id="question-days_broken"')]
    female = re.search(r"<th scope=\"row\">female</th>(.*?)</tr>", works).group(1)
    male = re.search(r"<th scope=\"row\">male</th>(.*?)</tr>", works).group(1)
    assert "<td>6</td>" not in female and "x</abbr>" in female  # 8 - 6 would be the men
    assert "x</abbr>" in male and "<td>2</td>" not in male  # 2 men: suppressed
    assert "&lt;5" not in works  # one marker for every hidden cell
    assert 'id="responded">8<' in html and 'id="reached">8<' in html


def test_number_histogram_and_median(login_as, organisation, db):
    people = seed_participants(db, organisation.id, 5)
    for pid, minutes in zip(people, (5, 10, 10, 30, 60), strict=True):
        seed_answers(db, organisation.id, "water-point", [pid], {"queue_minutes": minutes})
    client = login_as(organisation.id, "coordinator")
    html = client.get(f"/polls/{poll_id(db, organisation.id)}/results").get_data(as_text=True)
    block = html[html.index('id="question-queue_minutes"') :]
    assert "median 10" in block and "range 5–60" in block
    assert "(histogram)" in block


def test_free_text_shows_language_and_masks_numbers_for_analysts(login_as, organisation, db):
    with db.session() as session:
        save_poll(
            session,
            organisation.id,
            load_poll(
                {
                    "key": "voice",
                    "languages": ["en", "sw"],
                    "questions": [
                        {"key": "say", "type": "text", "prompt": {"en": "Tell us", "sw": "Tuambie"}}
                    ],
                }
            ),
        )
    people = seed_participants(db, organisation.id, 1)
    seed_answers(
        db, organisation.id, "voice", people, {"say": "Call me on 0712 345 678"}, language="sw"
    )
    pid = poll_id(db, organisation.id, "voice")
    analyst = login_as(organisation.id, "analyst").get(f"/polls/{pid}/results")
    html = analyst.get_data(as_text=True)
    assert "0712 345 678" not in html, html[html.find("0712") - 300 :][:600]
    assert "07••••••78" in html
    assert '<li lang="sw">' in html
    coordinator = login_as(organisation.id, "coordinator").get(f"/polls/{pid}/results")
    assert "0712 345 678" in coordinator.get_data(as_text=True)


def test_results_pages_are_scoped(login_as, organisation, other_organisation, db):
    stranger = login_as(other_organisation.id, "owner")
    pid = poll_id(db, organisation.id)
    assert stranger.get(f"/polls/{pid}/results").status_code == 404
    assert stranger.get(f"/polls/{pid}/report").status_code == 404
    assert stranger.get("/polls/999999/results").status_code == 404


def test_progress_totals_per_group_over_time(login_as, organisation, db):
    people = seed_participants(db, organisation.id, 1, group="Women")
    with db.session() as session:
        group = session.scalar(sa.select(m.Group).where(m.Group.name == "Women"))
        programme = m.Programme(
            organisation_id=organisation.id,
            key="trees",
            name={"en": "Tree planting"},
            unit={"en": "seedlings"},
        )
        session.add(programme)
        session.flush()
        for days, quantity in ((0, 500), (2, 250), (9, 1000)):
            session.add(
                m.ProgressReport(
                    programme_id=programme.id,
                    participant_id=people[0],
                    group_id=group.id,
                    quantity=quantity,
                    created_at=datetime(2026, 1, 5) + timedelta(days=days),
                )
            )
    html = login_as(organisation.id, "analyst").get("/results/progress").get_data(as_text=True)
    assert "Tree planting" in html and "w/c 2026-01-05" in html and "w/c 2026-01-12" in html
    assert "750 <small>(750)</small>" in html and "<strong>1,750</strong>" in html


def test_suppression_rules():
    assert [tally.suppress(n) for n in (0, 1, 4, 5, 9)] == [0, None, None, 5, 9]
    assert tally.mask_phone_numbers("ring +254 712 345678 or 12") == "ring 25••••••••78 or 12"


def test_histogram_bins_cover_every_value():
    bars = charts.histogram_bins([0, 1, 2, 3, 10, 365])
    assert sum(bar.value for bar in bars) == 6
    assert bars[0].label.startswith("0")
    assert charts.histogram_bins([]) == []
    assert [b.value for b in charts.histogram_bins([2.5, 2.5])] == [2]
