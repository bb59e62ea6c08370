"""The sample application: the seed's Flask app, answering "Good!" at /."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello_world():
    return "Good!"
