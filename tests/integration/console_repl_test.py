#!/usr/bin/python3
"""The admin console's prompt (chat-admin, apps/admin-console/repl.cpp) driven through a
pseudo-terminal, keystroke by keystroke, as a person types.

One chat server (`--app chat`, a fresh `--db`, `--admin-listen` on a port picked here,
`--admin-token`) and one python-socketio client (websocket) connected to it serve every
test. Each test starts its own `chat-admin --connect ... --token ...` on the slave side of
a new pty (its controlling terminal, so that Ctrl-C is a SIGINT), with HOME a fresh
directory (the history file is $HOME/.chat_admin_history) and TERM=xterm, and reads the
master side with bounded waits.

Tested: TAB completes a command (`sta` -> `status`, which then runs); TAB completes a room
the console learnt from the server after the previous command (`join` the client to a
room, then `sockets / --room lobby-r` TAB -> the room, which lists the client); Up arrow
brings back the previous line and Enter runs it again; the history file holds the typed
lines and a new session's Up arrow finds them; Ctrl-C stops a running `tail` (which has
shown the client's event) and the prompt comes back and works; Ctrl-D at an empty prompt
ends chat-admin with status 0; a wrong token ends it with status 3 before any prompt.
The server stops on SIGTERM with status 0.

Usage: CHAT_SERVER=/abs/chat-server CHAT_ADMIN=/abs/chat-admin \
       /usr/bin/python3 tests/integration/console_repl_test.py [-v]
"""
import atexit
import errno
import fcntl
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import threading
import time
import unittest
import warnings

import socketio

START_TIMEOUT = 10.0  # the server's and chat-admin's start
STOP_TIMEOUT = 5.0  # SIGTERM: sessions close within 2 s, then the store flushes
WAIT = 5.0  # bound of every wait for output
CTRL_C_WAIT = 2.0  # Ctrl-C brings the prompt back within this
CTRL_D_WAIT = 3.0  # Ctrl-D ends chat-admin within this
KEY_PAUSE = 0.05  # between keystrokes that the line editor must see one by one
WATCHDOG = 90.0  # the whole run, hard limit

TOKEN = 'console-repl-test-token-0123456789'  # 24+ characters
PROMPT = 'chat-admin> '
BANNER = 'chat-admin: connected. help lists the commands; Ctrl-D leaves.'
ROOM = 'lobby-room-xyz'

UP = '\x1b[A'
TAB = '\t'
ENTER = '\r'
CTRL_C = '\x03'
CTRL_D = '\x04'

LISTENING_RE = re.compile(r'^listening on http://127\.0\.0\.1:(\d+)\s*$')
ADMIN_RE = re.compile(r'^admin console on 127\.0\.0\.1:(\d+)\s*$')
# Terminal control sequences the line editor writes (CSI, OSC, two-byte escapes) and BEL.
ESCAPES_RE = re.compile(r'\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>78MDE]|\x07')

PROCS = []  # every process started here, killed at exit whatever happens


def _binary(name):
    path = os.environ.get(name)
    if not path:
        raise RuntimeError('set %s=/absolute/path/to/the/binary' % name)
    if not os.path.isabs(path) or not os.path.exists(path):
        raise RuntimeError('%s must be an existing absolute path: %s' % (name, path))
    return path


def _die_with_parent():
    """In the child before exec: SIGKILL it when this test process dies."""
    try:
        import ctypes
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _pty_child_setup():
    """In chat-admin's child (a new session, fd 0 the pty slave) before exec: make the pty
    its controlling terminal, so that Ctrl-C typed on it is a SIGINT to chat-admin."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    _die_with_parent()


def _kill_all():
    for proc in PROCS:
        if proc.poll() is None:
            proc.kill()


atexit.register(_kill_all)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _plain(text):
    """Output without the terminal's control sequences and carriage returns."""
    return ESCAPES_RE.sub('', text).replace('\r', '')


class Server:
    """chat-server with the chat app, a fresh database and the admin console listening."""

    def __init__(self):
        self.tmpdir = tempfile.mkdtemp(prefix='console-repl-db-')
        self.admin_port = _free_port()
        cmd = [_binary('CHAT_SERVER'), '--app', 'chat',
               '--db', os.path.join(self.tmpdir, 'chat.db'),
               '--host', '127.0.0.1', '--port', '0', '--admin-token', TOKEN,
               '--admin-listen', '127.0.0.1:%d' % self.admin_port]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, preexec_fn=_die_with_parent)
        PROCS.append(self.proc)
        self.port = None
        ready = threading.Event()

        def read_stdout():
            for line in self.proc.stdout:  # keeps draining stdout until the process ends
                m = LISTENING_RE.match(line)
                if m:
                    self.port = int(m.group(1))
                m = ADMIN_RE.match(line)
                if m and int(m.group(1)) == self.admin_port:
                    ready.set()
            ready.set()  # EOF: the server exited

        threading.Thread(target=read_stdout, daemon=True).start()
        if not ready.wait(START_TIMEOUT) or self.proc.poll() is not None or self.port is None:
            code = self.proc.poll()
            self.close()
            raise RuntimeError('chat-server: no "admin console on 127.0.0.1:%d" line within '
                               '%.0f s (exit code %s)' % (self.admin_port, START_TIMEOUT, code))
        self.url = 'http://127.0.0.1:%d' % self.port

    def close(self):
        """SIGTERM; None when the server exited with 0 within STOP_TIMEOUT, else why not."""
        problem = None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problem = 'still running %.0f s after SIGTERM (killed)' % STOP_TIMEOUT
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        if problem is None and self.proc.returncode != 0:
            problem = 'exit status %s after SIGTERM, not 0' % self.proc.returncode
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None
        return problem


class Console:
    """chat-admin on a pseudo-terminal: type() writes keystrokes to the master side,
    expect() waits (bounded) for a pattern in what came out since the last match."""

    def __init__(self, home, token=TOKEN, admin_port=None):
        self.home = home
        master, slave = os.openpty()
        os.set_blocking(master, False)
        env = {'HOME': home, 'TERM': 'xterm', 'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
               'LANG': 'C.UTF-8'}
        # A sanitizer build's settings (scripts/test.sh: TSan's suppressions of CAF's
        # uninstrumented internals) go to chat-admin too.
        for name in ('TSAN_OPTIONS', 'ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS'):
            if name in os.environ:
                env[name] = os.environ[name]
        cmd = [_binary('CHAT_ADMIN'), '--connect', '127.0.0.1:%d' % admin_port,
               '--token', token]
        try:
            self.proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                                         cwd=home, start_new_session=True,
                                         preexec_fn=_pty_child_setup)
        except Exception:
            os.close(master)
            raise
        finally:
            os.close(slave)  # only the child holds it: its exit reads as EOF here
        PROCS.append(self.proc)
        self.master = master
        self.raw = b''
        self.pos = 0  # expect() searches the text from here
        self.eof = False

    @property
    def text(self):
        return self.raw.decode('utf-8', 'replace')

    def _read(self, timeout):
        """Reads what is there, waiting at most `timeout` for the first bytes."""
        if self.eof:
            time.sleep(min(timeout, 0.05))
            return
        ready, _, _ = select.select([self.master], [], [], max(timeout, 0))
        if not ready:
            return
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.EIO:  # Linux: the slave side is closed everywhere
                    self.eof = True
                    return
                raise
            if not chunk:
                self.eof = True
                return
            self.raw += chunk

    def expect(self, pattern, timeout=WAIT, plain=True):
        """Waits for `pattern` (a regex) in the output after the last match; the match.
        plain: matched against the output without control sequences and CRs."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            haystack = text[self.pos:]
            m = regex.search(_plain(haystack) if plain else haystack)
            if m:
                # Move past the match: find where it ends in the raw text.
                self.pos = self._raw_offset(haystack, m.end(), plain)
                return m
            left = deadline - time.monotonic()
            if left <= 0 or (self.eof and self.proc.poll() is not None):
                raise AssertionError('no %r within %.1f s; chat-admin %s; output since the last '
                                     'match: %r' % (pattern, timeout, self._state(), haystack))
            self._read(min(left, 0.1))

    def _raw_offset(self, haystack, plain_end, plain):
        if not plain:
            return self.pos + plain_end
        # The shortest raw prefix whose plain form reaches plain_end: that length grows with
        # the prefix, so a binary search (a linear one took minutes on a long tail's output).
        lo, hi = 0, len(haystack)
        if len(_plain(haystack)) < plain_end:
            return self.pos + len(haystack)
        while lo < hi:
            mid = (lo + hi) // 2
            if len(_plain(haystack[:mid])) >= plain_end:
                hi = mid
            else:
                lo = mid + 1
        return self.pos + lo

    def _state(self):
        code = self.proc.poll()
        return 'running' if code is None else 'exited with %d' % code

    def drain(self, quiet=0.1, limit=1.0):
        """Reads until nothing more came for `quiet` seconds (at most `limit`)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = len(self.raw)
            self._read(quiet)
            if len(self.raw) == before:
                return

    def since(self):
        """The plain output after the last match, without waiting."""
        self._read(0)
        return _plain(self.text[self.pos:])

    def type(self, keys, pause=0.0):
        """Writes keystrokes; with `pause`, one at a time."""
        data = keys.encode()
        chunks = [data[i:i + 1] for i in range(len(data))] if pause else [data]
        for chunk in chunks:
            while chunk:
                try:
                    chunk = chunk[os.write(self.master, chunk):]
                except BlockingIOError:
                    self._read(0.01)
            if pause:
                time.sleep(pause)

    def prompt(self, timeout=WAIT):
        """Waits for the prompt, then for the line editor to settle."""
        self.expect(re.escape(PROMPT), timeout)
        self.drain(quiet=0.1)

    def run(self, line, expect, timeout=WAIT):
        """At a prompt: types `line` and Enter; waits for `expect`, then for the prompt."""
        self.type(line + ENTER)
        m = self.expect(expect, timeout)
        self.prompt()
        return m

    def wait_exit(self, timeout):
        """The exit status, reading the pty meanwhile; AssertionError after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                self.drain(quiet=0.05, limit=0.5)
                return code
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError('chat-admin still running after %.1f s; output: %r'
                                     % (timeout, self.text))
            self._read(min(left, 0.05))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
        if self.master is not None:
            os.close(self.master)
            self.master = None


SERVER = None
CLIENT = None


def setUpModule():
    global SERVER, CLIENT
    if SERVER is not None:
        return
    # python-engineio leaves pooled HTTP sockets to the garbage collector.
    warnings.filterwarnings('ignore', category=ResourceWarning)
    SERVER = Server()
    CLIENT = socketio.Client(reconnection=False, request_timeout=5, handle_sigint=False)
    CLIENT.connect(SERVER.url, transports=['websocket'], wait_timeout=WAIT)


def tearDownModule():
    global SERVER, CLIENT
    if CLIENT is not None:
        try:
            CLIENT.disconnect()
        except Exception:  # pragma: no cover - best effort
            pass
        CLIENT = None
    if SERVER is not None:
        server, SERVER = SERVER, None
        problem = server.close()
        if problem:
            raise AssertionError('chat-server: ' + problem)


class ConsoleReplTests(unittest.TestCase):

    def setUp(self):
        self.home = tempfile.mkdtemp(prefix='console-repl-home-')
        self.addCleanup(shutil.rmtree, self.home, True)
        self.consoles = []
        self.addCleanup(self._close_consoles)

    def _close_consoles(self):
        for console in self.consoles:
            console.close()

    def start(self, token=TOKEN):
        console = Console(self.home, token=token, admin_port=SERVER.admin_port)
        self.consoles.append(console)
        return console

    def start_at_prompt(self):
        console = self.start()
        console.expect(re.escape(BANNER), START_TIMEOUT)
        console.prompt()
        return console

    def leave(self, console):
        """Ctrl-D at the empty prompt: chat-admin ends with status 0."""
        console.type(CTRL_D)
        self.assertEqual(console.wait_exit(CTRL_D_WAIT), 0, console.text)

    def history_lines(self):
        """The lines of $HOME/.chat_admin_history (libedit writes a signature line first
        and octal escapes such as \\040 for a space)."""
        path = os.path.join(self.home, '.chat_admin_history')
        self.assertTrue(os.path.exists(path), 'no %s' % path)
        with open(path, encoding='utf-8', errors='replace') as f:
            lines = f.read().splitlines()
        # A completed word ends with the space the completion appended: stripped here.
        return [re.sub(r'\\([0-7]{3})', lambda m: chr(int(m.group(1), 8)), line).rstrip(' ')
                for line in lines if line != '_HiStOrY_V2_']

    def test_tab_completes_a_command(self):
        console = self.start_at_prompt()
        console.type('sta', pause=KEY_PAUSE)
        console.expect(r'sta$')
        console.type(TAB)
        console.expect(r'tus')  # the editor writes the rest of the command
        console.drain()
        console.type(ENTER)
        console.expect(r'\n1 node\n')
        console.expect(r'node \(alone\): chat-server ')
        console.prompt()
        self.leave(console)
        self.assertIn('status', self.history_lines())

    def test_tab_completes_a_room_learnt_from_the_server(self):
        sid = CLIENT.get_sid('/')
        self.assertTrue(sid)
        console = self.start_at_prompt()
        # The console asks the server for namespaces and rooms after each command.
        console.run('join / %s %s' % (sid, ROOM), r'joined: 1\n')
        console.type('sockets / --room lobby-r', pause=KEY_PAUSE)
        console.expect(r'lobby-r$')
        console.type(TAB)
        console.expect(r'oom-xyz')
        console.drain()
        console.type(ENTER)
        m = console.expect(r'\n(%s) +/ .*%s\n1 socket\n' % (re.escape(sid), re.escape(ROOM)))
        self.assertEqual(m.group(1), sid)
        console.prompt()
        self.leave(console)
        self.assertIn('sockets / --room %s' % ROOM, self.history_lines())

    def test_up_arrow_recalls_and_history_file_keeps_lines(self):
        console = self.start_at_prompt()
        console.run('rooms /', r'\n\d+ rooms?\n')
        console.run('nodes', r'\n\* \(alone: no cluster\)\n')
        console.type(UP)
        console.expect(r'nodes')  # the previous line is back on the prompt
        console.drain()
        console.type(ENTER)
        console.expect(r'\n\* \(alone: no cluster\)\n')
        console.prompt()
        # History now ends rooms /, nodes, nodes: the third Up is one line further back
        # (the second shows `nodes` again, which redraws nothing new).
        console.type(UP)
        console.expect(r'nodes')
        console.type(UP + UP, pause=KEY_PAUSE)
        console.expect(r'rooms /')
        console.drain()
        console.type(ENTER)
        console.expect(r'\n\d+ rooms?\n')
        console.prompt()
        self.leave(console)
        lines = self.history_lines()
        self.assertEqual(lines[-4:], ['rooms /', 'nodes', 'nodes', 'rooms /'], lines)

        # A new session reads the file: Up brings back the last line of the one before.
        again = self.start_at_prompt()
        again.type(UP)
        again.expect(r'rooms /')
        again.drain()
        again.type(ENTER)
        again.expect(r'\n\d+ rooms?\n')
        again.prompt()
        self.leave(again)

    def test_ctrl_c_stops_tail_and_the_prompt_comes_back(self):
        sid = CLIENT.get_sid('/')
        console = self.start_at_prompt()
        console.type('tail' + ENTER)
        console.expect(r'tailing every namespace; Ctrl-C stops\n')
        CLIENT.emit('console-tail-probe', {'conversationId': 'c1', 'n': 42})
        console.expect(r'\d\d:\d\d:\d\d\.\d{3} event / %s console-tail-probe \d+ B .*"n":42'
                       % re.escape(sid))
        console.type(CTRL_C)
        console.expect(re.escape(PROMPT), CTRL_C_WAIT)
        console.drain()
        self.assertIsNone(console.proc.poll(), 'Ctrl-C ended chat-admin: %r' % console.text)
        console.run('nodes', r'\n\* \(alone: no cluster\)\n')
        # The tail is over: a further event is not shown.
        CLIENT.emit('console-tail-after', {})
        time.sleep(0.3)
        self.assertNotIn('console-tail-after', console.since())
        self.leave(console)

    def test_ctrl_d_at_empty_prompt_exits_zero(self):
        console = self.start_at_prompt()
        started = time.monotonic()
        console.type(CTRL_D)
        self.assertEqual(console.wait_exit(CTRL_D_WAIT), 0, console.text)
        self.assertLess(time.monotonic() - started, CTRL_D_WAIT)

    def test_wrong_token_exits_3_before_any_prompt(self):
        console = self.start(token='wrong')
        self.assertEqual(console.wait_exit(START_TIMEOUT), 3, console.text)
        text = _plain(console.text)
        self.assertIn('wrong admin token', text)
        self.assertNotIn(PROMPT, text)
        self.assertNotIn(BANNER, text)


def _watchdog():
    sys.stderr.write('console_repl_test: watchdog fired after %.0f s\n' % WATCHDOG)
    sys.stderr.flush()
    _kill_all()
    os._exit(3)


if __name__ == '__main__':
    timer = threading.Timer(WATCHDOG, _watchdog)
    timer.daemon = True
    timer.start()
    try:
        result = unittest.main(exit=False, verbosity=2).result
    finally:
        timer.cancel()
        try:
            tearDownModule()
        except AssertionError:
            pass  # already reported by the run
        _kill_all()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: do not wait for client threads that might still be winding down.
    os._exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
