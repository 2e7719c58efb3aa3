#!/usr/bin/python3
"""Integration tests with Debian's python3-socketio (5.7.2) client.

Runs against the echo fixture (docs/echo-fixture.md):
  REFERENCE=1            -> node tests/integration/reference-echo.js
  CHAT_SERVER=/abs/path  -> that chat-server binary with --app echo

Each test is run over websocket only and over polling only: the `auth` event,
message/message-back, call('message-with-ack'), binary bytes echoed as bytes, a
server-to-client ack (`server-ack`), join + room broadcast with two clients, the
/custom namespace and its middleware refusal.

Against CHAT_SERVER (not REFERENCE=1) it also runs the chat application
(docs/chat-protocol.md, `--app chat` with a fresh `--db` per server) over websocket and
over polling: user-connected / identify / send-message with ack / validation errors /
ping (section 1) and joinRoom / sendMessage / messageError / typing (section 2).

Usage: /usr/bin/python3 tests/integration/python_client_test.py [-v]
"""
import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

import socketio

HERE = os.path.dirname(os.path.abspath(__file__))
START_TIMEOUT = 10.0
STOP_TIMEOUT = 3.0
WAIT = 5.0  # bound of every wait for an event
# connect() after a CONNECT_ERROR keeps waiting wait_timeout for other namespaces, so
# refusal tests use a short one (the refusal itself arrives at once).
REFUSAL_WAIT = 1.0
SETTLE = 0.3  # how long to wait before concluding something did NOT arrive
WATCHDOG = 120.0  # the whole run, hard limit

LISTENING_RE = re.compile(r'^listening on http://127\.0\.0\.1:(\d+)\s*$')


STARTED = []  # every Server, killed at exit whatever happens


def _die_with_parent():
    """In the child before exec: SIGKILL it when this test process dies."""
    try:
        import ctypes
        ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _kill_all():
    for server in STARTED:
        if server.proc.poll() is None:
            server.proc.kill()


atexit.register(_kill_all)


class Server:
    """The server under test, started with --port 0 and stopped on close()."""

    def __init__(self, extra_args=(), app='echo'):
        self.tmpdir = None
        app_args = ['--app', app]
        if app == 'chat':
            self.tmpdir = tempfile.mkdtemp(prefix='chat-db-py-')
            app_args += ['--db', os.path.join(self.tmpdir, 'chat.db')]
        if os.environ.get('REFERENCE') == '1':
            cmd = ['node', os.path.join(HERE, 'reference-echo.js')]
        else:
            binary = os.environ.get('CHAT_SERVER')
            if not binary:
                raise RuntimeError('set CHAT_SERVER=/absolute/path/to/chat-server '
                                   '(or REFERENCE=1 for the reference server)')
            if not os.path.isabs(binary) or not os.path.exists(binary):
                raise RuntimeError('CHAT_SERVER must be an existing absolute path: %s'
                                   % binary)
            cmd = [binary]
        cmd += app_args + ['--host', '127.0.0.1', '--port', '0'] + list(extra_args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True,
                                     preexec_fn=_die_with_parent)
        STARTED.append(self)
        self.port = None
        found = threading.Event()

        def read_stdout():
            for line in self.proc.stdout:  # keeps draining stdout until the process ends
                m = LISTENING_RE.match(line)
                if m and not found.is_set():
                    self.port = int(m.group(1))
                    found.set()
            found.set()  # EOF: the server exited

        threading.Thread(target=read_stdout, daemon=True).start()
        if not found.wait(START_TIMEOUT) or self.port is None:
            self.close()
            raise RuntimeError('%s: no listening line within %.0f s (exit code %s)'
                               % (cmd[0], START_TIMEOUT, self.proc.returncode))
        self.url = 'http://127.0.0.1:%d' % self.port

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = None


SERVER = None


def setUpModule():
    global SERVER
    if SERVER is not None:
        return
    # python-engineio leaves pooled HTTP sockets to the garbage collector.
    warnings.filterwarnings('ignore', category=ResourceWarning)
    SERVER = Server()


def tearDownModule():
    if SERVER is not None:
        SERVER.close()


class Inbox:
    """Collects events; get() waits (bounded) for the next one of a name."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = []  # (namespace, name, args)

    def put(self, namespace, name, args):
        with self.cond:
            self.events.append((namespace, name, args))
            self.cond.notify_all()

    def get(self, name, namespace='/', timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (ns, ev, args) in enumerate(self.events):
                    if ev == name and ns == namespace:
                        del self.events[i]
                        return args
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError('no %r on %s within %.1f s' % (name, namespace, timeout))
                self.cond.wait(left)

    def count(self, name, namespace='/'):
        with self.cond:
            return sum(1 for ns, ev, _ in self.events if ev == name and ns == namespace)


class Clients:
    """Creates python-socketio clients and disconnects all of them in close()."""

    def __init__(self):
        self.all = []

    def new(self, namespaces=('/',), ping_handler=None):
        sio = socketio.Client(reconnection=False, request_timeout=5, handle_sigint=False)
        sio.inbox = Inbox()
        for ns in namespaces:
            for name in ('auth', 'message-back', 'ack-result', 'room-news', 'connect_error'):
                def handler(*args, _name=name, _ns=ns):
                    sio.inbox.put(_ns, _name, list(args))
                sio.on(name, handler, namespace=ns)
            if ping_handler is not None:
                sio.on('ping-ack', ping_handler, namespace=ns)
        self.all.append(sio)
        return sio

    def close(self):
        for sio in self.all:
            try:
                sio.disconnect()
            except Exception:  # pragma: no cover - best effort
                pass
        self.all = []


class SocketIOClientTests:
    """Run once per transport by the concrete classes below."""

    TRANSPORTS = None

    def setUp(self):
        self.clients = Clients()
        self.addCleanup(self.clients.close)

    def connect(self, namespaces=('/',), auth=None, ping_handler=None, headers=None):
        sio = self.clients.new(namespaces, ping_handler)
        sio.connect(SERVER.url, transports=self.TRANSPORTS, namespaces=list(namespaces),
                    auth=auth, headers=headers or {}, wait_timeout=WAIT)
        self.assertEqual(sio.transport(), self.TRANSPORTS[0])
        return sio

    def test_auth_event_echoes_handshake_auth(self):
        sio = self.connect(auth={'token': 'py', 'n': 2})
        self.assertEqual(sio.inbox.get('auth'), [{'token': 'py', 'n': 2}])

    def test_auth_event_is_empty_object_without_auth(self):
        sio = self.connect()
        self.assertEqual(sio.inbox.get('auth'), [{}])

    def test_message_and_message_back(self):
        sio = self.connect()
        sio.emit('message', {'text': 'hi', 'list': [1, 2, None], 'u': 'ünï ✓'})
        self.assertEqual(sio.inbox.get('message-back'),
                         [{'text': 'hi', 'list': [1, 2, None], 'u': 'ünï ✓'}])
        sio.emit('message', ('a', 1, True))  # a tuple is sent as several arguments
        self.assertEqual(sio.inbox.get('message-back'), ['a', 1, True])

    def test_call_message_with_ack(self):
        sio = self.connect()
        self.assertEqual(sio.call('message-with-ack', {'x': 1}, timeout=WAIT), {'x': 1})
        self.assertEqual(sio.call('message-with-ack', ('a', 'b'), timeout=WAIT), ('a', 'b'))

    def test_binary_payload_echoed_as_bytes(self):
        sio = self.connect()
        data = bytes(range(256))
        sio.emit('message', data)
        back = sio.inbox.get('message-back')
        self.assertEqual(back, [data])
        self.assertIsInstance(back[0], bytes)
        sio.emit('message', {'nested': {'bin': b'\x00\xff', 'more': [b'abc', 'text']}})
        self.assertEqual(sio.inbox.get('message-back'),
                         [{'nested': {'bin': b'\x00\xff', 'more': [b'abc', 'text']}}])
        self.assertEqual(sio.call('message-with-ack', b'\x01\x02', timeout=WAIT), b'\x01\x02')

    def test_server_to_client_ack(self):
        received = []

        def on_ping(data):
            received.append(data)
            return 'pong-from-python'

        sio = self.connect(ping_handler=on_ping)
        sio.emit('server-ack', {'timeout': 3000})
        self.assertEqual(sio.inbox.get('ack-result'),
                         [{'ok': True, 'args': ['pong-from-python']}])
        self.assertEqual(received, ['hello'])

    def test_server_to_client_ack_with_several_values(self):
        sio = self.connect(ping_handler=lambda data: (data, 2, b'\x07'))
        sio.emit('server-ack', {'timeout': 3000})
        self.assertEqual(sio.inbox.get('ack-result'),
                         [{'ok': True, 'args': ['hello', 2, b'\x07']}])

    def test_join_and_room_broadcast_with_two_clients(self):
        a = self.connect()
        b = self.connect()
        self.assertEqual(a.call('join', 'py-room', timeout=WAIT), 'py-room')
        spec = {'rooms': ['py-room'], 'event': 'room-news', 'data': {'n': 1}}
        # b is not in the room: only a (the sender, in the room) receives
        self.assertEqual(b.call('broadcast', spec, timeout=WAIT), 'ok')
        self.assertEqual(a.inbox.get('room-news'), [{'n': 1}])
        time.sleep(SETTLE)
        self.assertEqual(b.inbox.count('room-news'), 0)
        # both in the room: both receive, once each
        self.assertEqual(b.call('join', 'py-room', timeout=WAIT), 'py-room')
        spec['data'] = {'n': 2}
        self.assertEqual(a.call('broadcast', spec, timeout=WAIT), 'ok')
        self.assertEqual(a.inbox.get('room-news'), [{'n': 2}])
        self.assertEqual(b.inbox.get('room-news'), [{'n': 2}])
        # except the room: nobody in it receives
        spec = {'except': ['py-room'], 'event': 'room-news', 'data': {'n': 3}}
        self.assertEqual(a.call('broadcast', spec, timeout=WAIT), 'ok')
        time.sleep(SETTLE)
        self.assertEqual(a.inbox.count('room-news'), 0)
        self.assertEqual(b.inbox.count('room-news'), 0)

    def test_custom_namespace(self):
        sio = self.connect(namespaces=('/custom',), auth={'who': 'py'})
        self.assertEqual(sio.inbox.get('auth', namespace='/custom'), [{'who': 'py'}])
        sio.emit('message', 'in custom', namespace='/custom')
        self.assertEqual(sio.inbox.get('message-back', namespace='/custom'), ['in custom'])
        self.assertEqual(sio.call('message-with-ack', 5, namespace='/custom', timeout=WAIT), 5)

    def test_two_namespaces_on_one_client(self):
        sio = self.connect(namespaces=('/', '/custom'))
        sio.inbox.get('auth')
        sio.inbox.get('auth', namespace='/custom')
        sio.emit('message', 'root', namespace='/')
        sio.emit('message', 'custom', namespace='/custom')
        self.assertEqual(sio.inbox.get('message-back'), ['root'])
        self.assertEqual(sio.inbox.get('message-back', namespace='/custom'), ['custom'])
        time.sleep(SETTLE)
        self.assertEqual(sio.inbox.count('message-back'), 0)
        self.assertEqual(sio.inbox.count('message-back', namespace='/custom'), 0)

    def test_dynamic_namespace(self):
        sio = self.connect(namespaces=('/dyn-py1',))
        self.assertEqual(sio.call('message-with-ack', 'dyn', namespace='/dyn-py1',
                                  timeout=WAIT), 'dyn')

    def test_middleware_refusal_raises_connection_error(self):
        sio = self.clients.new(namespaces=('/custom',))
        with self.assertRaises(socketio.exceptions.ConnectionError):
            sio.connect(SERVER.url, transports=self.TRANSPORTS, namespaces=['/custom'],
                        auth={'reject': True}, wait_timeout=REFUSAL_WAIT)
        self.assertEqual(sio.inbox.get('connect_error', namespace='/custom'),
                         [{'message': 'not authorized', 'data': {'code': 'E_REJECTED'}}])
        self.assertFalse(sio.connected)

    def test_unknown_namespace_raises_connection_error(self):
        sio = self.clients.new(namespaces=('/nope',))
        with self.assertRaises(socketio.exceptions.ConnectionError):
            sio.connect(SERVER.url, transports=self.TRANSPORTS, namespaces=['/nope'],
                        wait_timeout=REFUSAL_WAIT)
        self.assertEqual(sio.inbox.get('connect_error', namespace='/nope'),
                         [{'message': 'Invalid namespace'}])

    def test_handshake_info(self):
        sio = self.connect(auth={'k': 'v'}, headers={'X-Py-Header': 'py-value'})
        sio.inbox.get('auth')
        hs = sio.call('handshake', timeout=WAIT)
        self.assertEqual(hs['headers'].get('x-py-header'), 'py-value')
        self.assertIn(hs['address'], ('127.0.0.1', '::ffff:127.0.0.1'))
        self.assertEqual(hs['auth'], {'k': 'v'})
        self.assertEqual(hs['query'].get('EIO'), '4')
        self.assertEqual(hs['query'].get('transport'), self.TRANSPORTS[0])


class WebSocketTests(SocketIOClientTests, unittest.TestCase):
    TRANSPORTS = ['websocket']


class PollingTests(SocketIOClientTests, unittest.TestCase):
    TRANSPORTS = ['polling']


ISO_RE = re.compile(r'^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$')


class ChatTests:
    """The chat application (docs/chat-protocol.md sections 1 and 2) with python-socketio;
    run once per transport. Each test starts its own chat server."""

    TRANSPORTS = None

    def setUp(self):
        self.server = Server(['--rate-limit', '1000'], app='chat')
        self.addCleanup(self.server.close)
        self.clients = []
        self.addCleanup(self._close_clients)

    def _close_clients(self):
        for sio in self.clients:
            try:
                sio.disconnect()
            except Exception:  # pragma: no cover - best effort
                pass

    def connect(self, auth=None):
        """A connected client on / whose inbox records every event (catch-all handler)."""
        sio = socketio.Client(reconnection=False, request_timeout=5, handle_sigint=False)
        sio.inbox = Inbox()
        sio.on('*', lambda event, *args: sio.inbox.put('/', event, list(args)))
        self.clients.append(sio)
        sio.connect(self.server.url, transports=self.TRANSPORTS, auth=auth, wait_timeout=WAIT)
        self.assertEqual(sio.transport(), self.TRANSPORTS[0])
        return sio

    def assert_iso(self, value):
        self.assertIsInstance(value, str)
        self.assertRegex(value, ISO_RE)

    def test_user_connected_and_identify(self):
        a = self.connect()
        [ua] = a.inbox.get('user-connected')
        self.assertEqual(sorted(ua), ['connectedAt', 'socketId', 'timestamp', 'totalConnected'])
        self.assertEqual(ua['socketId'], a.get_sid('/'))
        self.assertEqual(ua['totalConnected'], 1)
        self.assertIsInstance(ua['connectedAt'], int)
        self.assert_iso(ua['timestamp'])
        b = self.connect()
        for sio in (a, b):
            [u] = sio.inbox.get('user-connected')
            self.assertEqual(u['socketId'], b.get_sid('/'))
            self.assertEqual(u['totalConnected'], 2)
        a.emit('identify', {'userId': 'py-user', 'platform': 'python', 'appVersion': '5.7'})
        [idf] = a.inbox.get('identified')
        self.assertEqual(sorted(idf), ['message', 'socketId', 'timestamp'])
        self.assertEqual(idf['socketId'], a.get_sid('/'))
        self.assertEqual(idf['message'], 'Client identified successfully')
        time.sleep(SETTLE)
        self.assertEqual(b.inbox.count('identified'), 0)
        a_sid = a.get_sid('/')
        a.disconnect()
        [gone] = b.inbox.get('user-disconnected')
        self.assertEqual(gone['socketId'], a_sid)
        self.assertEqual(gone['platform'], 'python')
        self.assertEqual(gone['totalConnected'], 1)
        self.assertGreaterEqual(gone['connectedDuration'], 0)

    def test_send_message_with_ack_reaches_everyone(self):
        a = self.connect()
        b = self.connect()
        ack = a.call('send-message', {'sender': 'py', 'text': 'hello ✓', 'platform': 'python'},
                     timeout=WAIT)
        self.assertEqual(sorted(ack), ['id', 'status'])
        self.assertEqual(ack['status'], 'ok')
        for sio in (a, b):
            [m] = sio.inbox.get('receive-message')
            self.assertEqual(sorted(m), ['platform', 'sender', 'socketId', 'text', 'timestamp'])
            self.assertEqual((m['socketId'], m['sender'], m['text'], m['platform']),
                             (a.get_sid('/'), 'py', 'hello ✓', 'python'))
            self.assert_iso(m['timestamp'])

    def test_validation_error_to_the_sender_only(self):
        a = self.connect()
        b = self.connect()
        a.emit('send-message', 'not an object')
        self.assertEqual(a.inbox.get('error'), [{'message': 'Invalid payload: expected an object'}])
        a.emit('send-message', {'sender': 'x' * 101, 'text': 't'})
        self.assertEqual(a.inbox.get('error'), [{'message': 'sender is too long (max 100)'}])
        self.assertEqual(a.call('send-message', {'sender': 'py', 'text': ''}, timeout=WAIT),
                         {'status': 'error', 'error': 'text is required'})
        time.sleep(SETTLE)
        self.assertEqual(b.inbox.count('error'), 0)
        self.assertEqual(b.inbox.count('receive-message'), 0)
        # Answered through the ack: no `error` event besides.
        self.assertEqual(a.inbox.count('error'), 0)

    def test_ping_pong_to_the_sender_only(self):
        a = self.connect()
        b = self.connect()
        a.emit('ping')
        [pong] = a.inbox.get('pong')
        self.assertEqual(sorted(pong), ['timestamp'])
        self.assert_iso(pong['timestamp'])
        time.sleep(SETTLE)
        self.assertEqual(b.inbox.count('pong'), 0)

    def test_conversation_join_send_receive(self):
        a = self.connect()
        b = self.connect()
        outsider = self.connect()
        self.assertEqual(a.call('joinRoom', 'py-conv', timeout=WAIT), {'status': 'ok', 'room': 'py-conv'})
        self.assertEqual(b.call('joinRoom', {'conversationId': 'py-conv'}, timeout=WAIT),
                         {'status': 'ok', 'room': 'py-conv'})
        ack = a.call('sendMessage', {'conversationId': 'py-conv', 'senderId': 'py-a',
                                     'content': 'from python', 'type': 'text'}, timeout=WAIT)
        self.assertEqual(ack['status'], 'ok')
        for sio in (a, b):
            [r] = sio.inbox.get('receiveMessage')
            self.assertEqual(sorted(r), ['conversationId', 'message'])
            self.assertEqual(r['conversationId'], 'py-conv')
            msg = r['message']
            self.assertEqual(msg['id'], ack['id'])
            self.assertEqual(msg['_id'], msg['id'])
            self.assertEqual((msg['senderId'], msg['content'], msg['type'], msg['deleted']),
                             ('py-a', 'from python', 'text', False))
            self.assertEqual((msg['readBy'], msg['deliveredTo']), ([], []))
            self.assert_iso(msg['createdAt'])
        time.sleep(SETTLE)
        self.assertEqual(outsider.inbox.count('receiveMessage'), 0)

        a.emit('sendMessage', {'conversationId': 'py-conv', 'senderId': 'py-a', 'type': 'text'})
        self.assertEqual(a.inbox.get('messageError'), [{'error': 'Missing required fields'}])
        self.assertEqual(a.call('sendMessage', {'conversationId': 'py-conv', 'senderId': 'py-a',
                                                'content': 'x', 'type': 'video'}, timeout=WAIT),
                         {'status': 'error', 'error': 'Invalid message type'})
        time.sleep(SETTLE)
        self.assertEqual(b.inbox.count('messageError'), 0)
        self.assertEqual(b.inbox.count('receiveMessage'), 0)

    def test_conversation_typing_to_the_others(self):
        a = self.connect()
        b = self.connect()
        for sio in (a, b):
            self.assertEqual(sio.call('joinRoom', 'py-typing', timeout=WAIT)['status'], 'ok')
        a.emit('typing', {'conversationId': 'py-typing', 'userId': 'py-a'})
        self.assertEqual(b.inbox.get('userTyping'), [{'conversationId': 'py-typing', 'userId': 'py-a'}])
        a.emit('stopTyping', {'conversationId': 'py-typing', 'userId': 'py-a'})
        self.assertEqual(b.inbox.get('userStoppedTyping'),
                         [{'conversationId': 'py-typing', 'userId': 'py-a'}])
        time.sleep(SETTLE)
        self.assertEqual(a.inbox.count('userTyping'), 0)
        self.assertEqual(a.inbox.count('userStoppedTyping'), 0)


if os.environ.get('REFERENCE') != '1':
    # Only the C++ server has the chat application; under REFERENCE=1 these classes do not
    # exist at all (nothing is reported as skipped).
    class ChatWebSocketTests(ChatTests, unittest.TestCase):
        TRANSPORTS = ['websocket']

    class ChatPollingTests(ChatTests, unittest.TestCase):
        TRANSPORTS = ['polling']


def _watchdog():
    sys.stderr.write('python_client_test: watchdog fired after %.0f s\n' % WATCHDOG)
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
        tearDownModule()
        _kill_all()
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: do not wait for client threads that might still be winding down.
    os._exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)
