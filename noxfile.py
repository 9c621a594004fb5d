"""Developer sessions: `nox -s tests lint typecheck demo schemas`."""

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "typecheck", "tests"]


def install(session: nox.Session, extras: str) -> None:
    session.install("torch==2.13.0")  # CPU wheel first, see README
    session.install("-e", f".[{extras}]")


@nox.session
def tests(session: nox.Session) -> None:
    install(session, "train,dev,ray,audit,fast")
    session.run("python", "-m", "pytest", "-q", "-n", "2", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "src", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    install(session, "train,dev,ray,audit,fast")  # mypy checks laddertrain, tests and benchmarks against these too
    session.run("mypy")


@nox.session
def demo(session: nox.Session) -> None:
    install(session, "dev")
    session.run("ladder", "demo", "--out", "demo")


@nox.session
def schemas(session: nox.Session) -> None:
    install(session, "dev")
    session.run("ladder", "schemas", "--out", "schemas")
