"""The machine's limit for a page: a plain Flask "hello world", served by the benchmark under
the very gunicorn settings Cellule runs with (`gunicorn -c python:core.gunicorn_conf
benchmarks.hello:app`)."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello() -> str:
    return "Hello, world!"
