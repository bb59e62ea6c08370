"""
Shaped as Flask's tutorial app (flaskr) is where a deploy meets it: an application
factory, a SQLite database in its instance folder, and an `init-db` command whose schema
starts with DROP TABLE IF EXISTS, so each run wipes every post.
"""

import os
import sqlite3

import click
from flask import Flask, request

SCHEMA = """
DROP TABLE IF EXISTS post;
CREATE TABLE post (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL);
"""
VERSION = "one"


def create_app():
    app = Flask(__name__, instance_relative_config=True)
    database = os.path.join(app.instance_path, "flaskr.sqlite")

    @app.cli.command("init-db")
    def init_db():
        with sqlite3.connect(database) as connection:
            connection.executescript(SCHEMA)
        click.echo("Initialized the database.")

    @app.route("/", methods=["GET", "POST"])
    def posts():
        with sqlite3.connect(database) as connection:
            if request.method == "POST":
                connection.execute("INSERT INTO post (body) VALUES (?)", (request.form["body"],))
                return "added", 201
            bodies = [row[0] for row in connection.execute("SELECT body FROM post ORDER BY id")]
        return f"{VERSION}: {', '.join(bodies)}"

    return app
