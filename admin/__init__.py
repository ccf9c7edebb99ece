"""The coordinators' web panel and the JSON API."""


def init_app(app) -> None:
    from admin import auth, simulator, views

    auth.init_app(app)
    app.register_blueprint(views.blueprint)
    app.register_blueprint(simulator.blueprint)
