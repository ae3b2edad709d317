"""The errors licli reports to its user: one line naming the problem and the fix."""

from __future__ import annotations

import re
from collections.abc import Mapping


class LicliError(Exception):
    """Bad input or environment (exit code 2). ``problem`` says what is wrong, ``fix`` what to do.

    ``field`` names the configuration field at fault (``eps``, ``batch_size``). Library code writes that
    name in ``problem``/``fix`` as Python spells it (``eps must be > 0``, ``pass e.g. eps=8/255``);
    ``with_flags`` renders the same line for the command line (``--eps must be > 0``, ``pass e.g. --eps 8/255``).
    """

    exit_code = 2

    def __init__(self, problem: str, fix: str = "", *, field: str | None = None, also: tuple[str, ...] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.field = field
        self.also = also
        """Further fields the line names as ``field=value`` (a switch as ``field=True``), rendered as flags too."""

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem

    def with_flags(self, flags: Mapping[str, str]) -> str:
        """The line with ``field`` written as its flag (``flags``: field → ``--flag``): the name that starts the
        problem (``eps must be …`` → ``--eps must be …``) and every ``field=value`` (→ ``--flag value``); the
        same for every ``also`` field, a switch's ``field=True`` becoming the bare flag."""
        line = str(self)
        for name in (self.field, *self.also):
            if name and name in flags:
                setting = rf"(?<![\w-]){re.escape(name)}="
                line = re.sub(setting + r"True\b", lambda _: flags[name], line)
                line = re.sub(setting, lambda _: f"{flags[name]} ", line)
        if self.field and self.field in flags:
            line = re.sub(rf"^{re.escape(self.field)}(?![\w-])", lambda _: flags[self.field], line)  # type: ignore[index]
        return line


class CheckFailed(LicliError):
    """A check the user asked for failed: a regression, a masking check with --fail-on-masking (exit 1)."""

    exit_code = 1


class Interrupted(LicliError):
    """Ctrl-C (SIGINT) stopped the command; the message says what was kept and how to resume (exit 130)."""

    exit_code = 130
