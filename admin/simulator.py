"""The phone simulator page: type as a participant, see what Heard answers."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

blueprint = Blueprint("simulator", __name__, template_folder="templates")


@blueprint.get("/simulator")
def page():
    if not current_app.extensions["heard"].settings.simulator:
        abort(404)
    return render_template("simulator.html")
