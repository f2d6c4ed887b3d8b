"""The JSON API for integrations, with its OpenAPI document."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
