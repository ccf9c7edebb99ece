"""Channels: secrets encrypted and never shown again; a test message is queued."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from storage import models as m
from storage.secrets import SecretsUnreadable, open_secrets, seal_secrets

SECRET = "twilio-auth-token-1234567890"


def test_encryption_round_trip_and_wrong_key():
    token = seal_secrets("key-one-0123456789", {"auth_token": SECRET})
    assert SECRET not in token
    assert open_secrets("key-one-0123456789", token) == {"auth_token": SECRET}
    with pytest.raises(SecretsUnreadable):
        open_secrets("key-two-0123456789", token)


def test_add_channel_secret_is_encrypted_and_never_shown(
    app, db, login_as, organisation, post_form
):
    client = login_as(organisation.id, "coordinator")
    data = {
        "provider": "twilio",
        "kind": "sms",
        "address": "+15005550006",
        "account": "AC123",
        "secret": SECRET,
    }
    assert post_form(client, "/channels", data=data).status_code == 302
    page = client.get("/channels").get_data(as_text=True)
    assert "+15005550006" in page and "secret stored" in page and SECRET not in page
    with db.session() as session:
        channel = session.scalar(sa.select(m.Channel))
        assert SECRET not in channel.secrets_encrypted
        assert channel.config == {"account_sid": "AC123"}
        key = app.extensions["heard"].settings.secret_key
        assert open_secrets(key, channel.secrets_encrypted) == {"auth_token": SECRET}
    again = post_form(client, "/channels", data=data)
    assert again.status_code == 400 and "already registered" in again.get_data(as_text=True)


def test_send_test_message_queues_one_outbound_row(db, login_as, organisation, post_form):
    client = login_as(organisation.id, "coordinator")
    post_form(
        client, "/channels", data={"provider": "africastalking", "kind": "sms", "address": "22384"}
    )
    with db.session() as session:
        channel_id = session.scalar(sa.select(m.Channel.id))
    response = post_form(
        client,
        "/channels",
        f"/channels/{channel_id}/test",
        data={"phone": "0712 345 678", "text": "Habari!"},
    )
    assert response.status_code == 303
    with db.session() as session:
        row = session.scalar(sa.select(m.OutboundMessage))
        assert (row.to, row.text, row.provider, row.channel_id, row.status) == (
            "+254712345678",
            "Habari!",
            "africastalking",
            channel_id,
            "queued",
        )
        assert row.segments == 1 and row.encoding == "GSM-7"
    invalid = post_form(
        client,
        "/channels",
        f"/channels/{channel_id}/test",
        data={"phone": "12", "text": "x"},
        follow_redirects=True,
    )
    assert "Invalid number" in invalid.get_data(as_text=True)
