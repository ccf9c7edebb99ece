from __future__ import annotations

from heard.app import create_app
from heard.services import Services


def test_health_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_health_503_when_database_is_unreachable(settings, tmp_path):
    broken = settings.with_overrides(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1"
    )
    app = create_app(broken, services=Services.build(broken))
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unavailable"


def test_simulator_round_trip(client, organisation):
    response = client.post("/simulator/api/message", json={"phone": "0712345678", "text": "JOIN"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["phone"] == "+254712345678"
    assert "Reply YES" in body["replies"][0]


def test_simulator_rejects_bad_input(client, organisation):
    assert client.post("/simulator/api/message", data="nope").status_code == 400
    response = client.post("/simulator/api/message", json={"phone": "12", "text": "hi"})
    assert response.status_code == 400
    assert "invalid phone number" in response.get_json()["error"]
