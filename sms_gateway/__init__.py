"""Gateways: one module per provider, the console/simulator gateway and the outbox."""


def init_app(app) -> None:
    from sms_gateway import console

    app.register_blueprint(console.blueprint)
