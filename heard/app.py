"""The Flask application factory (`create_app`), as in the Flask tutorial.

`settings=None` reads the environment; tests pass their own `Settings`.
"""

from __future__ import annotations

import logging

from flask import Flask, current_app, jsonify
from werkzeug.middleware.proxy_fix import ProxyFix

from heard.config import Settings
from heard.services import Services


def create_app(settings: Settings | None = None, *, services: Services | None = None) -> Flask:
    settings = settings or Settings.from_env()
    services = services or Services.build(settings)
    app = Flask("heard", instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.public_url and settings.public_url.startswith("https")),
    )
    app.extensions["heard"] = services
    logging.basicConfig(level=settings.log_level)

    import admin
    import sms_gateway

    sms_gateway.init_app(app)
    admin.init_app(app)
    _exempt_machine_endpoints_from_csrf(app)
    _exempt_machine_endpoints(app)
    app.add_url_rule("/health", "health", health)
    if settings.proxy_hops:
        # Behind nginx the peer is always the proxy: the client's address, scheme and host
        # come from the headers the trusted hops add (docs/deploy.md), never from more.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


def _exempt_machine_endpoints(app: Flask) -> None:
    """Providers sign (Twilio) or carry a token (Africa's Talking) instead of a CSRF token;
    the JSON endpoints of the simulator and web chat need a JSON body, which a cross-site
    form cannot send without a CORS preflight."""
    from admin.auth import csrf

    for name in ("sms", "webchat"):
        csrf.exempt(app.blueprints[name])


def _exempt_machine_endpoints_from_csrf(app: Flask) -> None:
    """Webhooks and JSON endpoints authenticate otherwise (signatures, tokens); CSRF
    protects the panel's forms only."""
    from admin.auth import csrf
    from sms_gateway import console, ussd

    csrf.exempt(console.blueprint)
    # USSD: Africa's Talking carries ?token= instead; the simulator's hops are JSON.
    csrf.exempt(ussd.blueprint)
    csrf.exempt(ussd.simulator_blueprint)


def services() -> Services:
    return current_app.extensions["heard"]


def health():
    database = "ok" if services().db.ping() else "unavailable"
    body = {"status": "ok" if database == "ok" else "degraded", "database": database}
    return jsonify(body), 200 if database == "ok" else 503
