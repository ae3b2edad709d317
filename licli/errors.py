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

    def __init__(self, problem: str, fix: str = "", *, field: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix
        self.field = field

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}" if self.fix else self.problem

    def with_flags(self, flags: Mapping[str, str]) -> str:
        """The line with ``field`` written as its flag (``flags``: field → ``--flag``): the name that starts the
        problem (``eps must be …`` → ``--eps must be …``) and every ``field=value`` (→ ``--flag value``)."""
        flag = flags.get(self.field) if self.field else None
        if flag is None:
            return str(self)
        name = re.escape(self.field)  # type: ignore[arg-type]
        setting = re.compile(rf"(?<![\w-]){name}=")
        problem = re.sub(rf"^{name}(?![\w-])", flag, self.problem)
        line = f"{problem}; {self.fix}" if self.fix else problem
        return setting.sub(f"{flag} ", line)


class CheckFailed(LicliError):
    """A check the user asked for failed: a regression, a masking check with --fail-on-masking (exit 1)."""

    exit_code = 1


class Interrupted(LicliError):
    """Ctrl-C (SIGINT) stopped the command; the message says what was kept and how to resume (exit 130)."""

    exit_code = 130
