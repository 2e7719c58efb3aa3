// The malformed-input matrix, Socket.IO and the chat events (issue 9). Socket.IO packets
// go as raw WebSocket frames to the echo fixture (docs/echo-fixture.md); a malformed one
// ends the connection as the reference's decoder error does (the Engine.IO session
// closes: close 1000). The chat events go through socket.io-client v4 to `--app chat`;
// the answer is the error event or error ack of docs/chat-protocol.md, or the data back
// exactly as sent.
"use strict";

const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const chat = require("./chat_helpers");
const { runMatrix } = require("./hostile_matrix");

// -- Socket.IO -----------------------------------------------------------------------------

const nested = (depth) => "[".repeat(depth) + "]".repeat(depth);
const U64_MAX = "18446744073709551615";

/** The next Socket.IO packet on a rawSioWs, past heartbeats and the fixture's `auth` event. */
async function nextPacket(ws) {
  for (;;) {
    const m = await ws.next();
    if (m !== "2" && !(typeof m === "string" && m.startsWith('42["auth",'))) return m;
  }
}

/**
 * `frames` (strings: text, Buffers: binary) sent on a connected raw Socket.IO WebSocket.
 * expect: "closed" (the session ends: close 1000, nothing answered) or the exact packet
 * answered (and the connection stays).
 */
function sio(name, frames, expect) {
  return {
    cls: "Socket.IO",
    name,
    answer:
      expect === "closed"
        ? "connection closed (close 1000), nothing answered"
        : `answered ${expect.length > 60 ? `${expect.slice(0, 24)}...${expect.slice(-8)} (exactly)` : expect}`,
    async run(server) {
      const ws = await h.rawSioWs(server.url);
      try {
        for (const f of frames) ws.send(f);
        if (expect === "closed") {
          const closed = await h.withTimeout(ws.closed, 3000, "the server closing the connection");
          assert.strictEqual(closed.code, 1000);
          const answered = ws.received.filter((m) => m !== "2" && !/^(0|40|42\["auth",)/.test(m));
          assert.deepStrictEqual(answered, [], "nothing answered");
          return;
        }
        assert.strictEqual(await nextPacket(ws), expect);
        ws.send('42["message","still here"]');
        assert.strictEqual(await nextPacket(ws), '42["message-back","still here"]');
      } finally {
        ws.terminate();
      }
    },
  };
}

const PLACEHOLDER = (num) => `{"_placeholder":true,"num":${num}}`;

const sioCases = [
  sio("JSON nested 200 deep", [`42["message",${nested(200)}]`], "closed"),
  sio("JSON nested 100 deep (within the bound)", [`42["message",${nested(100)}]`], `42["message-back",${nested(100)}]`),
  sio("1,000,000 attachments announced", [`451000000-["message",${PLACEHOLDER(0)}]`], "closed"),
  sio("an attachment count past 2^64", [`4599999999999999999999-["message",${PLACEHOLDER(0)}]`], "closed"),
  sio("a placeholder past the attachments", [`451-["message",${PLACEHOLDER(1)}]`, Buffer.from([1])], "closed"),
  sio("a placeholder with num -1", [`451-["message",${PLACEHOLDER(-1)}]`, Buffer.from([1])], "closed"),
  sio("a placeholder with num \"0\"", [`451-["message",${PLACEHOLDER('"0"')}]`, Buffer.from([1])], "closed"),
  sio("a placeholder with num 0.5", [`451-["message",${PLACEHOLDER(0.5)}]`, Buffer.from([1])], "closed"),
  sio("a placeholder in a packet without attachments", [`42["message",${PLACEHOLDER(0)}]`], "closed"),
  sio("a binary frame with no packet waiting for it", [Buffer.from([1, 2, 3])], "closed"),
  sio("a text packet while an attachment is awaited", [`451-["message",${PLACEHOLDER(0)}]`, '42["message","x"]'], "closed"),
  sio("a BINARY_EVENT announcing 0 attachments", ['450-["message"]'], "closed"),
  sio("an ack id of 2^64 - 1", [`42${U64_MAX}["message-with-ack","x"]`], `43${U64_MAX}["x"]`),
  sio("an ack id of 2^64", ['4218446744073709551616["message-with-ack","x"]'], "closed"),
  {
    // An ACK nobody waits for is ignored: the next event is answered as usual.
    cls: "Socket.IO",
    name: "an ACK for an id never sent",
    answer: "ignored; the connection goes on",
    async run(server) {
      const ws = await h.rawSioWs(server.url);
      try {
        ws.send('43999["x"]');
        ws.send('42["message","after"]');
        assert.strictEqual(await nextPacket(ws), '42["message-back","after"]');
      } finally {
        ws.terminate();
      }
    },
  },
  sio("CONNECT to an unknown namespace", ["40/nope,"], '44/nope,{"message":"Invalid namespace"}'),
  sio("a namespace with a space", ["40/a b,"], "closed"),
  sio("a namespace of 300 characters", [`40/${"n".repeat(299)},`], "closed"),
  sio("a CONNECT payload that is an array", ['40/custom,["x"]'], "closed"),
  sio("a CONNECT payload that is a string", ['40/custom,"x"'], "closed"),
  sio("an EVENT for a namespace not connected", ['42/custom,["message","x"]'], "closed"),
  sio("the reserved event name 'connect'", ['42["connect"]'], "closed"),
  sio("an event name that is a number", ["42[1]"], "closed"),
  sio("an unknown packet type (7)", ['47["x"]'], "closed"),
  sio("a CONNECT_ERROR from a client", ['44{"message":"x"}'], "closed"),
  sio("a DISCONNECT with data", ['41{"a":1}'], "closed"),
  sio("a lone surrogate (\\ud800)", ['42["message","\\ud800"]'], "closed"),
  sio("a number JSON cannot carry (1e999)", ['42["message",1e999]'], '42["message-back",null]'),
];
runMatrix("hostile input: Socket.IO", {
  start: () => harness.start(),
  witness: {
    ping: async (socket) => assert.deepStrictEqual(await h.emitAck(socket, "message-with-ack", "alive"), ["alive"]),
  },
  cases: sioCases,
});

// -- chat events -------------------------------------------------------------------------------

const SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>';
const SQL = "'); DROP TABLE messages; -- \" OR 1=1 --";
const NUL = "a\u0000b\u0000";
const ODD = `${SCRIPT} ${SQL} ${NUL} \\ \u2028 😀 \u202e`;

/** A connected chat client with an inbox (chat_helpers) on nsp, closed after fn. */
async function withClient(server, nsp, fn, auth) {
  const socket = await chat.chatConnect(server.url + nsp, { transports: ["websocket"], ...(auth ? { auth } : {}) });
  try {
    return await fn(socket);
  } finally {
    socket.disconnect();
  }
}

/** `event` with `args` must be answered with the `error` event {message} (no ack asked). */
function chatError(nsp, name, event, args, errorEvent, payload, { before } = {}) {
  return {
    cls: "chat",
    name: `${nsp} ${event}: ${name}`,
    answer: `${errorEvent} ${JSON.stringify(payload)}`,
    async run(server) {
      await withClient(server, nsp, async (s) => {
        if (before) await before(s);
        s.emit(event, ...args);
        const [got] = await s.inbox.take(errorEvent);
        assert.deepStrictEqual(got, payload);
      });
    },
  };
}

/** `event` with `args` and an ack must be answered through the ack. */
function chatAck(nsp, name, event, args, expected, { before } = {}) {
  return {
    cls: "chat",
    name: `${nsp} ${event} with an ack: ${name}`,
    answer: `ack ${JSON.stringify(expected)}`,
    async run(server) {
      await withClient(server, nsp, async (s) => {
        if (before) await before(s);
        const [ack] = await h.emitAck(s, event, ...args);
        assert.deepStrictEqual(ack, expected);
      });
    },
  };
}

const err = (message) => ({ message });
const joinChat = (username) => async (s) => {
  s.emit("join", username);
  await s.inbox.take("join-success");
};

const chatCases = [
  // §1 platform events on /
  chatError("/", "a string payload", "send-message", ["hello"], "error", err("Invalid payload: expected an object")),
  chatError("/", "an array payload", "send-message", [["x"]], "error", err("Invalid payload: expected an object")),
  chatError("/", "no payload", "send-message", [], "error", err("Invalid payload: expected an object")),
  chatError("/", "sender a number", "send-message", [{ sender: 5, text: "x" }], "error", err("sender is required")),
  chatError("/", "sender of 101 characters", "send-message", [{ sender: "s".repeat(101), text: "x" }], "error",
    err("sender is too long (max 100)")),
  chatError("/", "text an object", "send-message", [{ sender: "s", text: { a: 1 } }], "error", err("text is required")),
  chatError("/", "text of 5001 characters", "send-message", [{ sender: "s", text: "t".repeat(5001) }], "error",
    err("text is too long (max 5000)")),
  chatError("/", "text of 2501 '😀' (5002 UTF-16 units, as JavaScript counts)", "send-message",
    [{ sender: "s", text: "😀".repeat(2501) }], "error", err("text is too long (max 5000)")),
  chatAck("/", "no sender", "send-message", [{ text: "x" }], { status: "error", error: "sender is required" }),
  chatError("/", "userId an object", "identify", [{ userId: {} }], "error", err("userId is required")),
  chatError("/", "userId true", "identify", [{ userId: true }], "error", err("userId is required")),
  chatError("/", "no eventType", "custom-event", [{ data: 1 }], "error", err("eventType is required")),
  {
    cls: "chat",
    name: "/ send-message: sender and text with markup, SQL quotes, NUL bytes, U+2028, RTL override",
    answer: "receive-message with sender and text exactly as sent; ack {status:\"ok\", id}",
    async run(server) {
      await withClient(server, "/", async (s) => {
        const [ack] = await h.emitAck(s, "send-message", { sender: `${SCRIPT}${NUL}`, text: ODD, platform: SQL });
        assert.strictEqual(ack.status, "ok");
        const [m] = await s.inbox.take("receive-message");
        assert.deepStrictEqual([m.sender, m.text, m.platform], [`${SCRIPT}${NUL}`, ODD, SQL]);
      });
    },
  },
  {
    cls: "chat",
    name: "/ send-message: a text of 5000 'é' and a sender of 100 'ü' (twice as many UTF-8 bytes)",
    answer: "accepted (limits count characters, not UTF-8 bytes)",
    async run(server) {
      await withClient(server, "/", async (s) => {
        const text = "é".repeat(5000);
        const sender = "ü".repeat(100);
        const [ack] = await h.emitAck(s, "send-message", { sender, text });
        assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
        const [m] = await s.inbox.take("receive-message");
        assert.deepStrictEqual([m.sender, m.text], [sender, text]);
      });
    },
  },
  {
    cls: "chat",
    name: "/ custom-event: a payload with markup, SQL and NUL bytes",
    answer: "custom-event with data exactly as sent",
    async run(server) {
      await withClient(server, "/", async (s) => {
        const payload = { eventType: SCRIPT, data: { sql: SQL, nul: NUL, deep: [[[[{ odd: ODD }]]]] } };
        s.emit("custom-event", payload);
        const [m] = await s.inbox.take("custom-event");
        assert.deepStrictEqual(m.data, payload);
      });
    },
  },
  // §2 conversations on /
  chatError("/", "conversationId an object", "sendMessage", [{ conversationId: {}, senderId: "u1", content: "x" }],
    "messageError", { error: "Missing required fields" }),
  chatError("/", "content a number", "sendMessage", [{ conversationId: "c1", senderId: "u1", content: 5 }], "messageError",
    { error: "Missing required fields" }),
  chatError("/", "type 'video'", "sendMessage", [{ conversationId: "c1", senderId: "u1", content: "x", type: "video" }],
    "messageError", { error: "Invalid message type" }),
  chatError("/", "content of 5001 characters", "sendMessage", [{ conversationId: "c1", senderId: "u1", content: "c".repeat(5001) }],
    "messageError", { error: "Message too long" }),
  chatAck("/", "senderId null", "sendMessage", [{ conversationId: "c1", senderId: null, content: "x" }],
    { status: "error", error: "Missing required fields" }),
  {
    cls: "chat",
    name: "/ sendMessage: 5000 characters of 'é' (10,000 UTF-8 bytes)",
    answer: "accepted: §2 counts characters (ack ok, receiveMessage with the content)",
    async run(server) {
      await withClient(server, "/", async (s) => {
        await h.emitAck(s, "joinRoom", "c-long");
        const content = "é".repeat(5000);
        const [ack] = await h.emitAck(s, "sendMessage", { conversationId: "c-long", senderId: "u1", content, type: "text" });
        assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
        const [m] = await s.inbox.take("receiveMessage");
        assert.strictEqual(m.message.content, content);
      });
    },
  },
  {
    cls: "chat",
    name: "/ sendMessage: ids and content with markup, SQL quotes and NUL bytes",
    answer: "receiveMessage and the stored history carry every field exactly as sent",
    async run(server) {
      const conversationId = `c'; DROP TABLE messages; --/../${NUL}`;
      const sent = { conversationId, senderId: SQL, content: ODD, type: "file", fileUrl: SCRIPT, fileName: NUL };
      await withClient(server, "/", async (s) => {
        await h.emitAck(s, "joinRoom", conversationId);
        const [ack] = await h.emitAck(s, "sendMessage", sent);
        assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
        const [m] = await s.inbox.take("receiveMessage");
        chat.assertMessageDoc(m.message, { conversationId, senderId: SQL, content: ODD, type: "file", fileUrl: SCRIPT, fileName: NUL });
      });
      const page = await chat.history(server.url, conversationId);
      assert.strictEqual(page.messages.length, 1);
      chat.assertMessageDoc(page.messages[0], { conversationId, senderId: SQL, content: ODD, fileUrl: SCRIPT, fileName: NUL });
    },
  },
  chatError("/", "an object without a room", "joinRoom", [{}], "error", err("room is required")),
  chatAck("/", "an object without a room", "joinRoom", [{ room: 5.5 }], { status: "error", error: "room is required" }),
  chatAck("/", "a room named for another user", "join", [{ room: "private-user.someone-else" }], { status: "error", error: "Forbidden" }),
  // §3 room chat on /chat
  chatError("/chat", "before join", "send-message", [{ message: "hi" }], "error", err("Join first")),
  chatError("/chat", "an object without username", "join", [{ name: "x" }], "error", err("username is required")),
  chatError("/chat", "a private message to nobody", "private-message", [{ to: "nobody", message: "x" }], "error",
    err("Recipient not found"), { before: joinChat("alice") }),
  chatError("/chat", "a message of 5001 characters", "send-message", [{ message: "m".repeat(5001) }], "error",
    err("message is too long (max 5000)"), { before: joinChat("bob") }),
  {
    cls: "chat",
    name: "/chat join and send-message with markup, SQL quotes and NUL bytes",
    answer: "join-success and message with username and text exactly as sent",
    async run(server) {
      await withClient(server, "/chat", async (s) => {
        s.emit("join", `${SCRIPT}${NUL}`);
        const [joined] = await s.inbox.take("join-success");
        assert.strictEqual(joined.username, `${SCRIPT}${NUL}`);
        s.emit("send-message", { message: ODD });
        const [m] = await s.inbox.take("message");
        assert.deepStrictEqual([m.username, m.text], [`${SCRIPT}${NUL}`, ODD]);
      });
    },
  },
];

runMatrix("hostile input: chat events", {
  // The matrix sends more than the default 10 messages a minute from one address.
  start: () => chat.startChat(["--rate-limit", "100000", "--rate-limit-per-address", "0"]),
  witness: {
    ping: async (socket) => assert.ok((await h.emitAck(socket, "ping"))[0].timestamp, "pong"),
  },
  cases: chatCases,
});
