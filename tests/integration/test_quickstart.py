"""README.md's quick start, run as written: the lines of the sh block between the
`quickstart:begin`/`quickstart:end` markers, with only these substitutions: `scripts/serve.sh`
is a harness Server (free port, temporary data directory), `build/release/src/app/herald` is
the binary under test, `user add` lines get `--data-dir` of that server, and the client
commands get HERALD_SERVER=127.0.0.1:PORT (the README relies on the default server). Each
line runs through bash with the variable assignments and exports before it, so `$herald`,
`export` and the quoting mean what they mean in a shell.

Commands marked `# terminal N:` (watch, listen, register, publish without --once) run in the
background, and the next line starts once they printed their first line (a reader waits for
what a terminal shows); the others run to completion and must exit 0. Then the README's
"What the terminals show" block is checked: each terminal's lines appear, in order, in that
command's output (times as any current UTC time), and the sends print its `sends` lines.
Finally every background command gets SIGINT and must exit 0."""

import datetime
import os
import re
import shlex
import signal
import subprocess
import unittest

from harness import HERALD, SOURCE_DIR, Server
from test_client import TIME, Proc, client_env

README = os.path.join(SOURCE_DIR, "README.md")
RELEASE_BINARY = "build/release/src/app/herald"
LONG_RUNNING = {"watch", "listen", "register"}


def quickstart_lines(text):
    m = re.search(r"<!-- quickstart:begin -->\s*```sh\n(.*?)```\s*<!-- quickstart:end -->", text, re.S)
    if m is None:
        raise AssertionError("README.md has no ```sh block between the quickstart markers")
    return [line for line in m.group(1).splitlines() if line.strip()]


def terminals_block(text):
    """The README's "What the terminals show" block: {label: [line, ...]} in order, labels
    `terminal N` and `sends`; a line indented under a label continues it."""
    m = re.search(r"What the terminals show[^\n]*\n+```text\n(.*?)```", text, re.S)
    if m is None:
        raise AssertionError("README.md has no \"What the terminals show\" text block after the quick start")
    shown, label = {}, None
    for line in m.group(1).splitlines():
        if not line.strip():
            continue
        head = re.match(r"^(terminal \d+|sends)\s{2,}(\S.*)$", line)
        if head:
            label = head.group(1)
            shown.setdefault(label, []).append(head.group(2).rstrip())
        elif line[:1].isspace() and label:
            shown[label].append(line.strip())
        else:
            raise AssertionError(f"cannot read this line of \"What the terminals show\": {line!r}")
    return shown


def strip_comment(line):
    """The line without its trailing `# comment` (a # outside quotes after a blank)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def pattern_of(shown):
    """A README line as a regular expression: its times stand for any time."""
    parts = re.split(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", shown)
    return TIME.join(re.escape(p) for p in parts)


class QuickStart(unittest.TestCase):
    def setUp(self):
        with open(README, encoding="utf-8") as f:
            self.readme = f.read()
        self.server = None
        self.procs = []

    def tearDown(self):
        for proc in self.procs:
            proc.kill()
        if self.server is not None:
            code = self.server.stop()
            self.assertEqual(code, 0, self.server.log_text()[-3000:])

    def test_the_quick_start_as_written(self):
        lines = quickstart_lines(self.readme)
        shown = terminals_block(self.readme)
        prelude = []  # assignments and exports so far, as written (after the substitutions)
        terminals = {}  # "terminal N" -> Proc
        commands = {}  # "terminal N" -> (subcommand, words)
        send_output = []
        binary = shlex.quote(os.path.abspath(HERALD))
        for raw in lines:
            command, comment = strip_comment(raw.replace(RELEASE_BINARY, binary))
            if not command:
                continue
            words = shlex.split(command)
            label = re.match(r"terminal (\d+):", comment)
            label = f"terminal {label.group(1)}" if label else None
            if words[0] == "scripts/serve.sh":
                self.assertIsNone(self.server, "scripts/serve.sh twice")
                self.server = Server()
                env = client_env(HERALD_SERVER=f"127.0.0.1:{self.server.port}")
                continue
            self.assertIsNotNone(self.server, f"{raw!r} comes before scripts/serve.sh")
            if words[0] == "export" or re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]) and len(words) == 1:
                prelude.append(command)
                continue
            while len(words) > 1 and re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
                words.pop(0)  # VAR=value before a command: bash gives it to that command
            self.assertIn(words[0], ("$herald", "${herald}", os.path.abspath(HERALD)),
                          f"not a line form this test knows: {raw!r}")
            subcommand = words[1]
            if subcommand == "user" and words[2:3] == ["add"]:
                command += " --data-dir " + shlex.quote(self.server.data_dir)
            # exec env: the command keeps the PID of bash (SIGINT goes to it), VAR=value prefixes work.
            script = "\n".join(prelude + ["exec env " + command])
            background = subcommand in LONG_RUNNING or (subcommand == "publish" and "--once" not in words)
            if background:
                self.assertIsNotNone(label, f"a long-running command without a '# terminal N:' comment: {raw!r}")
                self.assertNotIn(label, terminals, f"{label} used twice")
                proc = Proc(["bash", "-c", script], env)
                self.procs.append(proc)
                terminals[label] = proc
                commands[label] = (subcommand, words)
                proc.next_line(what=f"the first line of {label} ({raw.strip()})")
            else:
                result = subprocess.run(["bash", "-c", script], env=env, stdin=subprocess.DEVNULL,
                                        capture_output=True, text=True, timeout=30)
                self.assertEqual(result.returncode, 0, f"{raw}\nstdout: {result.stdout}\nstderr: {result.stderr}")
                if subcommand == "send":
                    send_output += result.stdout.splitlines()

        self.assertEqual(set(shown) - {"sends"}, set(terminals),
                         "the terminals the README shows are the commands it starts in terminals")
        for label, expected in shown.items():
            if label == "sends":
                self.assertEqual(len(send_output), len(expected), f"the sends printed {send_output}")
                for got, want in zip(send_output, expected):
                    self.assertRegex(got, rf"^{pattern_of(want)}$")
                continue
            proc = terminals[label]
            taken = 0  # README lines appear in order among the lines the command printed
            for want in expected:
                pattern = re.compile(pattern_of(want))
                while True:
                    while taken >= len(proc.lines):
                        proc.next_line(what=f"{want!r} in {label}")
                    taken += 1
                    if pattern.fullmatch(proc.lines[taken - 1]):
                        break
            if label == "terminal 2":  # watch: the first line is the first state shown
                self.assertRegex(proc.lines[0], rf"^{pattern_of(expected[0])}$", proc.describe())
            for line in proc.lines:
                stamp = re.match(TIME, line)
                if stamp:
                    when = datetime.datetime.strptime(stamp.group(0), "%Y-%m-%dT%H:%M:%SZ")
                    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
                    self.assertLess(abs((now - when).total_seconds()), 120, f"not UTC now: {line}")

        for label in sorted(terminals):
            proc = terminals[label]
            code, rest = proc.stop(signal.SIGINT)
            self.assertEqual(code, 0, f"{label} after SIGINT" + proc.describe())
            subcommand, words = commands[label]
            user = words[words.index("--user") + 1] if "--user" in words else None
            cleanup = {"listen": f"unregistered sip:{user}@127.0.0.1", "register": f"unregistered sip:{user}@127.0.0.1",
                       "publish": f"removed the publication of sip:{user}@127.0.0.1"}.get(subcommand)
            if cleanup and user:
                self.assertIn(cleanup, rest, f"{label}: the clean-up line after SIGINT" + proc.describe())
            self.assertEqual(proc.stderr_lines, [], f"{label}" + proc.describe())


if __name__ == "__main__":
    unittest.main()
