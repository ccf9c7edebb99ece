"""The coordinators' web panel and the JSON API."""


def init_app(app) -> None:
    from admin import auth, i18n, simulator, texts, views

    i18n.init_app(app)
    auth.init_app(app)
    _init_people(app)
    app.register_blueprint(views.blueprint)
    app.register_blueprint(simulator.blueprint)
    _init_polls(app)
    _init_commitments(app)
    _init_poll_feedback(app)
    app.register_blueprint(texts.blueprint)  # the organisation's wording of system messages


def _init_polls(app) -> None:
    """The poll builder, launches, recurring polls, results and the printable report."""
    from admin import api_schedules, launches, polls, reports, results, schedules
    from admin.auth import csrf

    for module in (polls, launches, schedules, results, reports):
        app.register_blueprint(module.blueprint)
    csrf.exempt(api_schedules.blueprint)  # bearer tokens, not cookies: no session to forge
    app.register_blueprint(api_schedules.blueprint)


def _init_people(app) -> None:
    """Access rules, participants, imports, users, tokens, channels, exports, audit, API."""
    from admin import (
        access,
        api,
        audit,
        channels,
        exports,
        imports,
        openapi,
        participants,
        tokens,
        users,
    )
    from admin.auth import csrf

    access.init_app(app)
    for module in (participants, imports, users, tokens, channels, exports, audit):
        app.register_blueprint(module.blueprint)
    # bearer tokens, not cookies, authenticate the API: there is no session to forge
    csrf.exempt(api.blueprint)
    csrf.exempt(openapi.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(openapi.blueprint)


def _init_commitments(app) -> None:
    """Dialogues and commitments over the API and in the tracker, and the public scorecard."""
    from admin import api_commitments, api_launches, scorecard, tracker
    from admin.auth import csrf

    # bearer tokens, not cookies, authenticate the API: there is no session to forge
    for api_blueprint in (api_commitments.blueprint, api_launches.blueprint):
        csrf.exempt(api_blueprint)
        app.register_blueprint(api_blueprint)
    app.register_blueprint(scorecard.blueprint)
    app.register_blueprint(tracker.blueprint)


def _init_poll_feedback(app) -> None:
    """Poll results sent back to the participants: the panel page and the API."""
    from admin import api_poll_feedback, poll_feedback
    from admin.auth import csrf

    app.register_blueprint(poll_feedback.blueprint)
    csrf.exempt(api_poll_feedback.blueprint)  # bearer tokens, not cookies: no session to forge
    app.register_blueprint(api_poll_feedback.blueprint)
