"""The printable citizen-data report: charts, metadata, limitations, SDG indicators."""

from __future__ import annotations

from tests.admin.polls_seed import poll_id, seed_answers, seed_participants


def test_report_has_charts_metadata_and_sdg_indicators(login_as, organisation, db, post_form):
    people = seed_participants(db, organisation.id, 7, gender="female")
    coordinator = login_as(organisation.id, "coordinator")
    pid = poll_id(db, organisation.id)
    assert post_form(coordinator, f"/polls/{pid}/launch", data={"action": "now"}).status_code == 302
    seed_answers(db, organisation.id, "water-point", people[:3], {"works": "yes"})
    html = login_as(organisation.id, "analyst").get(f"/polls/{pid}/report").get_data(as_text=True)
    assert "<svg" in html and "Water point check" in html
    assert "6.1.1" in html and "safely managed drinking water" in html
    for heading in ("Methodology and metadata", "Limitations", "Consent version", "Languages"):
        assert heading in html
    assert "en, sw" in html and "SMS" in html
    assert "coordinator" in html  # who launched it
    assert 'class="hidden-cell"' in html  # 3 answers by women: suppressed in the disaggregation
    assert "+2547" not in html  # no phone numbers in a published report


def test_report_prints_cleanly():
    from pathlib import Path

    css = (Path(__file__).parents[2] / "admin/static/heard.css").read_text()
    print_rules = css[css.index("@media print") :]
    assert ".top, .no-print" in print_rules and "break-inside: avoid" in print_rules
