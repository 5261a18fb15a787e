"""The command line's way out: every mistake one line on stderr, ``thermosim: error: ...``,
with an exit status (2 a mistake, 130 an interruption, 143 SIGTERM), and no traceback."""

from __future__ import annotations

import sys

import click

from .errors import ThermosimError


def fail(msg: str, code: int = 2):
    click.echo(f"thermosim: error: {msg}", err=True)
    sys.exit(code)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a batch scheduler's, ``kill``), raised as an interruption so that what an
    interruption cleans up is cleaned up: a comparison's workers ended, its half-made
    report folder removed."""


def _terminate(signum, frame):
    raise Terminated()


class Group(click.Group):
    """Turns user mistakes into one line on stderr each (no traceback): a case file with
    several mistakes gets a ``thermosim: error: FILE: KEY: REASON`` line per mistake."""

    def invoke(self, ctx):
        import signal
        import threading

        # (only the main thread may set a handler; the old one is put back after)
        old = signal.signal(signal.SIGTERM, _terminate) \
            if threading.current_thread() is threading.main_thread() else None
        try:
            return self._invoke(ctx)
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)

    def _invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ThermosimError as e:
            lines = e.lines()
            for line in lines[:-1]:
                click.echo(f"thermosim: error: {line}", err=True)
            fail(lines[-1])
        except click.UsageError as e:
            # a bad option or argument (a folder given for -o, an unknown --backend): one
            # line naming the option, like every other mistake, instead of click's usage text
            param = getattr(e, "param", None)
            name = (param.opts[0] if getattr(param, "opts", None) else
                    getattr(param, "name", None)) if param is not None else None
            sub = e.ctx.command.name if e.ctx is not None and e.ctx.command is not self \
                else ""
            where = " ".join(["thermosim", sub]).strip()
            fail(f"{where}{': ' + name if name else ''}: {e.format_message()} "
                  f"(see {where} --help)")
        except Terminated:
            fail("terminated", 143)
        except KeyboardInterrupt:
            fail("interrupted", 130)
