"""Gateways: one module per provider, the console/simulator gateway and the outbox."""


def init_app(app) -> None:
    from sms_gateway import console, ussd, views, webchat

    app.register_blueprint(console.blueprint)
    app.register_blueprint(views.blueprint)
    app.register_blueprint(webchat.blueprint)
    app.register_blueprint(ussd.blueprint)
    app.register_blueprint(ussd.simulator_blueprint)
