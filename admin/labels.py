"""How stored values read in the panel: `{{ participant.status|label('status') }}`.

Statuses, verdicts, question types, roles and audit actions are stored as short English
codes (`pending_consent`, `not_delivered`, `text.override`). The codes never change: the
database, the API, CSV exports and the tests all use them. Pages show a translated label
instead, looked up here by kind; a value without a label (a code added later) is shown as
it was before labels existed, with underscores as spaces, so nothing ever goes blank.

The English labels are the codes as the pages showed them until now ("not delivered",
"pending consent"), so English pages read as before.
"""

from __future__ import annotations

from admin.i18n import _l

LABELS: dict[str, dict[str, object]] = {
    # storage.models.Participant.status (admin.participants.STATUSES)
    "status": {
        "new": _l("new"),
        "pending_consent": _l("pending consent"),
        "active": _l("active"),
        "declined": _l("declined"),
        "opted_out": _l("opted out"),
        "erased": _l("erased"),
    },
    # bot.commitments.STATUSES, and the verdicts of bot.verdicts.verdict
    "commitment": {
        "open": _l("open"),
        "delivered": _l("delivered"),
        "partly": _l("partly"),
        "not_delivered": _l("not delivered"),
        "unclear": _l("unclear"),
        "cancelled": _l("cancelled"),
    },
    # bot.verdicts.direction
    "trend": {
        "improving": _l("improving"),
        "worsening": _l("worsening"),
        "flat": _l("flat"),
    },
    # bot.flows.poll_format.QUESTION_TYPES
    "question_type": {
        "choice": _l("choice"),
        "multi_choice": _l("multi choice"),
        "yes_no": _l("yes no"),
        "number": _l("number"),
        "rating": _l("rating"),
        "text": _l("text"),
    },
    # storage.models.Launch.status (admin.api_launches.STATUSES)
    "launch": {
        "scheduled": _l("scheduled"),
        "running": _l("running"),
        "paused": _l("paused"),
        "done": _l("done"),
        "cancelled": _l("cancelled"),
    },
    # storage.models.RepollRound.status
    "round": {
        "planned": _l("planned"),
        "running": _l("running"),
        "closed": _l("closed"),
    },
    # storage.models.ImportJob.status
    "import": {
        "preview": _l("preview"),
        "running": _l("running"),
        "done": _l("done"),
        "failed": _l("failed"),
    },
    # the filters of a launch's audience (admin.launches.audience_from)
    "audience": {
        "groups": _l("Groups"),
        "villages": _l("Villages"),
        "languages": _l("Languages"),
        "gender": _l("Gender"),
        "age_band": _l("Age band"),
        "disability": _l("Disability"),
    },
    # the profile dimensions of a disaggregation (admin.tally.DIMENSIONS)
    "dimension": {
        "gender": _l("gender"),
        "age_band": _l("age band"),
        "disability": _l("disability"),
        "village": _l("village"),
    },
    # profile answers as stored (bot.flows.profile; imports may say female/male), and
    # admin.tally.NOT_STATED; villages are names and are never looked up here
    "profile": {
        "woman": _l("woman"),
        "man": _l("man"),
        "female": _l("female"),
        "male": _l("male"),
        "another": _l("another"),
        "prefer_not": _l("prefer not to say"),
        "yes": _l("yes"),
        "no": _l("no"),
        "under_18": _l("under 18"),
        "not stated": _l("not stated"),
    },
    # admin.auth.ROLES
    "role": {
        "owner": _l("owner"),
        "coordinator": _l("coordinator"),
        "analyst": _l("analyst"),
    },
    # storage.models.AuditEvent.action, as written by storage.queries.audit
    "action": {
        "login": _l("logged in"),
        "login.failed": _l("failed login"),
        "user.create": _l("user invited"),
        "user.role": _l("role changed"),
        "user.activate": _l("user reactivated"),
        "user.deactivate": _l("user deactivated"),
        "token.create": _l("API token created"),
        "token.revoke": _l("API token revoked"),
        "channel.create": _l("channel added"),
        "channel.activate": _l("channel switched on"),
        "channel.deactivate": _l("channel switched off"),
        "channel.test_message": _l("test message sent"),
        "poll.save": _l("poll saved"),
        "poll.saved": _l("poll saved"),
        "poll.export": _l("results exported"),
        "launch.started": _l("launch started"),
        "launch.scheduled": _l("launch scheduled"),
        "launch.paused": _l("launch paused"),
        "launch.resumed": _l("launch resumed"),
        "participant.erase": _l("participant erased"),
        "participant.erased": _l("participant erased"),
        "participant.opted_out": _l("participant opted out"),
        "participants.import": _l("participants imported"),
        "text.override": _l("system message reworded"),
        "text.override.clear": _l("system message rewording removed"),
        "webchat.verified": _l("web chat number verified"),
    },
}


def label(value: object, kind: str) -> str:
    """The label of `value` among `kind`'s values, in the request's language."""
    if value is None:
        return ""
    found = LABELS.get(kind, {}).get(str(value))
    if found is None:
        return str(value).replace("_", " ")
    return str(found)


def labels(kind: str) -> dict[str, str]:
    """Every label of `kind`, for a page's scripts (a status that changes while watched)."""
    return {value: str(text) for value, text in LABELS.get(kind, {}).items()}


def init_app(app) -> None:
    app.jinja_env.filters["label"] = label
    app.jinja_env.globals["labels"] = labels
