"""A Flask app with an application factory and a SQLite database in its instance folder
(Flask's own layout), which a release command creates: what the e2e tests of the data
folder and release commands deploy."""

import os
import sqlite3

import click
from flask import Flask, request

VERSION = "one"


def create_app() -> Flask:
    app = Flask(__name__)
    database = os.path.join(app.instance_path, "notes.sqlite")

    def connect() -> sqlite3.Connection:
        return sqlite3.connect(database)

    @app.get("/")
    def notes():
        with connect() as connection:
            rows = connection.execute("SELECT text FROM note ORDER BY id").fetchall()
        return f"{VERSION}: " + ", ".join(text for (text,) in rows)

    @app.post("/")
    def add():
        with connect() as connection:
            connection.execute("INSERT INTO note (text) VALUES (?)", (request.form["text"],))
        return "added", 201

    @app.cli.command("init-db")
    def init_db():
        """The table, once: a release command, run again by every new release."""
        with connect() as connection:
            connection.execute("CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        click.echo(f"database ready: {database}")

    @app.cli.command("reset-db")
    def reset_db():
        """What Flask's tutorial's init-db does: the table dropped and made again, every
        note gone. Safe only as a setup command, which runs once."""
        with connect() as connection:
            connection.executescript(
                "DROP TABLE IF EXISTS note; CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
            )
        click.echo("database reset")

    return app
