// Chat app, conversations on `/` (docs/chat-protocol.md §2, §5 and the conversation
// endpoints of §6): joinRoom shapes, sendMessage stored then broadcast to the room,
// the message document, errors, typing, receipts, edit/delete, history paging, HTTP
// posting, a restart on the same store, presence rooms, private rooms and online status.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };
const API_KEY = "k";
const ARGS = ["--api-key", API_KEY, "--rate-limit", "1000"];

/** Connected client on / with handshake auth (identity) when given. */
function connectAs(url, auth) {
  return c.chatConnect(url, auth ? { auth } : {});
}

/** joinRoom with ack; asserts {status:'ok', room}. */
async function join(socket, room) {
  const [ack] = await h.emitAck(socket, "joinRoom", room);
  assert.deepStrictEqual(ack, { status: "ok", room });
  return ack;
}

function msg(conversationId, senderId, content, extra = {}) {
  return { conversationId, senderId, content, type: "text", ...extra };
}

/** sendMessage with ack; resolves with the ack's id after checking the ack. */
async function send(socket, payload) {
  const [ack] = await h.emitAck(socket, "sendMessage", payload);
  c.assertKeys(ack, ["status", "id"], "sendMessage ack");
  assert.strictEqual(ack.status, "ok");
  return ack.id;
}

if (!harness.isReference())
  for (const transports of [["websocket"], ["polling"]])
    describe(`chat conversations (§2, §5) over ${transports[0]}`, () => {
      before(() => c.setDefaultTransports(transports));
      after(() => c.setDefaultTransports(undefined));
    afterEach(() => h.cleanup());

    it("joinRoom takes a string, {room} and {conversationId}; leaveRoom the same", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const b = await connectAs(server.url);
        await join(b, "conv-str");
        const [ackRoom] = await h.emitAck(b, "joinRoom", { room: "conv-room" });
        assert.deepStrictEqual(ackRoom, { status: "ok", room: "conv-room" });
        const [ackConv] = await h.emitAck(b, "joinRoom", { conversationId: "conv-id" });
        assert.deepStrictEqual(ackConv, { status: "ok", room: "conv-id" });
        // b is in all three: a (not a member) sends to each.
        for (const room of ["conv-str", "conv-room", "conv-id"]) {
          await send(a, msg(room, "ua", `to ${room}`));
          const [r] = await b.inbox.take("receiveMessage");
          assert.strictEqual(r.conversationId, room);
          assert.strictEqual(r.message.content, `to ${room}`);
        }
        // Without an ack, joinRoom still joins.
        b.emit("joinRoom", "conv-noack");
        await h.delay(100);
        await send(a, msg("conv-noack", "ua", "x"));
        await b.inbox.take("receiveMessage");

        const [l1] = await h.emitAck(b, "leaveRoom", "conv-str");
        assert.deepStrictEqual(l1, { status: "ok", room: "conv-str" });
        const [l2] = await h.emitAck(b, "leaveRoom", { room: "conv-room" });
        assert.deepStrictEqual(l2, { status: "ok", room: "conv-room" });
        const [l3] = await h.emitAck(b, "leaveRoom", { conversationId: "conv-id" });
        assert.deepStrictEqual(l3, { status: "ok", room: "conv-id" });
        for (const room of ["conv-str", "conv-room", "conv-id"]) await send(a, msg(room, "ua", "after leave"));
        await c.assertNone(b, "receiveMessage");
      }),
    );

    it("join / leave with {room} (seed 001) act like joinRoom / leaveRoom", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const b = await connectAs(server.url);
        const [ack] = await h.emitAck(b, "join", { room: "seed1-room" });
        assert.deepStrictEqual(ack, { status: "ok", room: "seed1-room" });
        await send(a, msg("seed1-room", "ua", "hi"));
        await b.inbox.take("receiveMessage");
        const [left] = await h.emitAck(b, "leave", { room: "seed1-room" });
        assert.deepStrictEqual(left, { status: "ok", room: "seed1-room" });
        await send(a, msg("seed1-room", "ua", "gone"));
        await c.assertNone(b, "receiveMessage");
      }),
    );

    it("sendMessage: ack {status:'ok', id}, receiveMessage {conversationId, message} to the room only", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const b = await connectAs(server.url);
        const outsider = await connectAs(server.url);
        await join(a, "c1");
        await join(b, "c1");
        await join(outsider, "c2");
        const id = await send(a, msg("c1", "user-a", "hello room"));
        const got = await c.takeAll([a, b], "receiveMessage");
        for (const r of got) {
          c.assertKeys(r, ["conversationId", "message"], "receiveMessage");
          assert.strictEqual(r.conversationId, "c1");
          c.assertMessageDoc(r.message, {
            id,
            conversationId: "c1",
            senderId: "user-a",
            content: "hello room",
            type: "text",
            deleted: false,
            readBy: [],
            deliveredTo: [],
          });
          for (const k of ["fileUrl", "fileName", "editedAt"]) {
            assert.ok(r.message[k] === undefined || r.message[k] === null, `message.${k} on a plain text message`);
          }
        }
        assert.deepStrictEqual(got[0], got[1]);
        await c.assertNone(outsider, "receiveMessage");
        await c.assertNone([a, b], "receiveMessage");
        await c.assertNone([a, b, outsider], "messageError", 0);

        // Without an ack: the same broadcast.
        b.emit("sendMessage", msg("c1", "user-b", "no ack"));
        const again = await c.takeAll([a, b], "receiveMessage");
        for (const r of again) assert.strictEqual(r.message.content, "no ack");
        assert.notStrictEqual(again[0].message.id, id);
      }),
    );

    it("sendMessage of a file / image: empty content allowed, fileUrl and fileName kept", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        await join(a, "files");
        const id = await send(a, {
          conversationId: "files",
          senderId: "ua",
          content: "",
          type: "image",
          fileUrl: "https://cdn.example/x.png",
          fileName: "x.png",
        });
        const [r] = await a.inbox.take("receiveMessage");
        c.assertMessageDoc(r.message, {
          id,
          content: "",
          type: "image",
          fileUrl: "https://cdn.example/x.png",
          fileName: "x.png",
        });
        const id2 = await send(a, { conversationId: "files", senderId: "ua", content: "", type: "file", fileUrl: "u", fileName: "f.pdf" });
        const [r2] = await a.inbox.take("receiveMessage");
        c.assertMessageDoc(r2.message, { id: id2, type: "file", content: "", fileUrl: "u", fileName: "f.pdf" });
      }),
    );

    it("store then broadcast: the history already holds a message when receiveMessage arrives", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        await join(a, "stored-first");
        for (let i = 0; i < 5; i++) {
          // Ask for the history the moment receiveMessage arrives.
          const seen = new Promise((resolve) => {
            a.once("receiveMessage", (r) => resolve({ r, hist: c.history(server.url, "stored-first") }));
          });
          a.emit("sendMessage", msg("stored-first", "ua", `m${i}`));
          const { r, hist } = await h.withTimeout(seen, 3000, "receiveMessage");
          const page = await hist;
          assert.ok(
            page.messages.some((m) => m.id === r.message.id),
            `message ${r.message.id} not in the history fetched on receiveMessage`,
          );
        }
      }),
    );

    const errors = [
      ["no conversationId", { senderId: "u", content: "x", type: "text" }, "Missing required fields"],
      ["no senderId", { conversationId: "cerr", content: "x", type: "text" }, "Missing required fields"],
      ["no content", { conversationId: "cerr", senderId: "u", type: "text" }, "Missing required fields"],
      ["empty text content", { conversationId: "cerr", senderId: "u", content: "", type: "text" }, "Missing required fields"],
      ["boolean senderId", { conversationId: "cerr", senderId: true, content: "x", type: "text" }, "Missing required fields"],
      ["content of 5001", { conversationId: "cerr", senderId: "u", content: "z".repeat(5001), type: "text" }, "Message too long"],
      ["type video", { conversationId: "cerr", senderId: "u", content: "x", type: "video" }, "Invalid message type"],
    ];
    for (const [name, payload, error] of errors) {
      it(`sendMessage with ${name} -> messageError '${error}' to the sender only`, TEST_TIMEOUT, () =>
        c.withChat(ARGS, async (server) => {
          const a = await connectAs(server.url);
          const b = await connectAs(server.url);
          await join(a, "cerr");
          await join(b, "cerr");
          a.emit("sendMessage", payload);
          const [e] = await a.inbox.take("messageError");
          assert.deepStrictEqual(e, { error });
          const [ack] = await h.emitAck(a, "sendMessage", payload);
          assert.deepStrictEqual(ack, { status: "error", error });
          await c.assertNone(b, "messageError");
          await c.assertNone([a, b], "receiveMessage", 0);
          assert.strictEqual((await c.history(server.url, "cerr")).messages.length, 0);
        }),
      );
    }

    it("an error answered through the ack is not also sent as messageError / error", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url, { userId: "u-ack" });
        await join(a, "cack");
        const id = await send(a, msg("cack", "u-ack", "mine"));
        for (const [event, payload] of [
          ["sendMessage", { conversationId: "cack", senderId: "u-ack", type: "text" }],
          ["sendMessage", msg("cack", "u-ack", "x", { type: "video" })],
          ["editMessage", { conversationId: "cack", messageId: id, senderId: "someone-else", content: "x" }],
          ["deleteMessage", { conversationId: "cack", messageId: "nope", senderId: "u-ack" }],
        ]) {
          const [ack] = await h.emitAck(a, event, payload);
          assert.strictEqual(ack.status, "error", `${event}: ${JSON.stringify(ack)}`);
        }
        const [forbidden] = await h.emitAck(a, "joinRoom", "private-user.other");
        assert.deepStrictEqual(forbidden, { status: "error", error: "Forbidden" });
        await c.assertNone(a, ["messageError", "error"]);
      }),
    );

    it("content of exactly 5000 characters is accepted", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        await join(a, "c5000");
        await send(a, msg("c5000", "u", "q".repeat(5000)));
        const [r] = await a.inbox.take("receiveMessage");
        assert.strictEqual(r.message.content.length, 5000);
      }),
    );

    it("typing / stopTyping reach the room except the sender", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const b = await connectAs(server.url);
        const cc = await connectAs(server.url);
        const outsider = await connectAs(server.url);
        for (const s of [a, b, cc]) await join(s, "ctype");
        await join(outsider, "other");
        a.emit("typing", { conversationId: "ctype", userId: "ua" });
        for (const t of await c.takeAll([b, cc], "userTyping")) assert.deepStrictEqual(t, { conversationId: "ctype", userId: "ua" });
        a.emit("stopTyping", { conversationId: "ctype", userId: "ua" });
        for (const t of await c.takeAll([b, cc], "userStoppedTyping")) {
          assert.deepStrictEqual(t, { conversationId: "ctype", userId: "ua" });
        }
        await c.assertNone([a, outsider], ["userTyping", "userStoppedTyping"]);
        // With an ack: answered through it, same broadcast.
        const [tAck] = await h.emitAck(a, "typing", { conversationId: "ctype", userId: "ua" });
        assert.strictEqual(tAck.status, "ok", JSON.stringify(tAck));
        await c.takeAll([b, cc], "userTyping");
        const [sAck] = await h.emitAck(a, "stopTyping", { conversationId: "ctype", userId: "ua" });
        assert.strictEqual(sAck.status, "ok", JSON.stringify(sAck));
        await c.takeAll([b, cc], "userStoppedTyping");
      }),
    );

    it("markDelivered / markRead: stored and broadcast to the room with the time", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const b = await connectAs(server.url);
        const outsider = await connectAs(server.url);
        await join(a, "crc");
        await join(b, "crc");
        const id = await send(a, msg("crc", "ua", "receipt me"));
        await c.takeAll([a, b], "receiveMessage");

        b.emit("markDelivered", { conversationId: "crc", messageId: id, userId: "ub" });
        for (const d of await c.takeAll([a, b], "messageDelivered")) {
          c.assertKeys(d, ["conversationId", "messageId", "userId", "deliveredAt"], "messageDelivered");
          assert.strictEqual(d.conversationId, "crc");
          assert.strictEqual(d.messageId, id);
          assert.strictEqual(d.userId, "ub");
          c.assertIso(d.deliveredAt, "deliveredAt");
        }
        const [ackRead] = await h.emitAck(b, "markRead", { conversationId: "crc", messageId: id, userId: "ub" });
        assert.strictEqual(ackRead.status, "ok");
        for (const r of await c.takeAll([a, b], "messageRead")) {
          c.assertKeys(r, ["conversationId", "messageId", "userId", "readAt"], "messageRead");
          assert.strictEqual(r.conversationId, "crc");
          assert.strictEqual(r.messageId, id);
          assert.strictEqual(r.userId, "ub");
          c.assertIso(r.readAt, "readAt");
        }
        await c.assertNone(outsider, "messageDelivered");
        await c.assertNone(outsider, "messageRead", 0);
        const stored = (await c.history(server.url, "crc")).messages.find((m) => m.id === id);
        assert.ok(stored, "message not in history");
        assert.deepStrictEqual(stored.deliveredTo, ["ub"]);
        assert.deepStrictEqual(stored.readBy, ["ub"]);

        // Unknown message.
        b.emit("markRead", { conversationId: "crc", messageId: "no-such-message", userId: "ub" });
        const [e] = await b.inbox.take("messageError");
        assert.deepStrictEqual(e, { error: "Message not found" });
        await c.assertNone(a, "messageRead");
      }),
    );

    it("editMessage: stored, messageEdited to the room; by someone else -> Forbidden; unknown -> Message not found", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const b = await connectAs(server.url);
        const outsider = await connectAs(server.url);
        await join(a, "cedit");
        await join(b, "cedit");
        const id = await send(a, msg("cedit", "ua", "original"));
        await c.takeAll([a, b], "receiveMessage");

        const [ack] = await h.emitAck(a, "editMessage", { conversationId: "cedit", messageId: id, senderId: "ua", content: "edited" });
        assert.strictEqual(ack.status, "ok");
        const got = await c.takeAll([a, b], "messageEdited");
        for (const ev of got) {
          c.assertKeys(ev, ["conversationId", "message"], "messageEdited");
          assert.strictEqual(ev.conversationId, "cedit");
          c.assertMessageDoc(ev.message, { id, senderId: "ua", content: "edited", type: "text", deleted: false });
          c.assertIso(ev.message.editedAt, "editedAt");
        }
        await c.assertNone(outsider, "messageEdited");
        const stored = (await c.history(server.url, "cedit")).messages.find((m) => m.id === id);
        assert.strictEqual(stored.content, "edited");
        c.assertIso(stored.editedAt, "stored editedAt");

        // Someone else.
        b.emit("editMessage", { conversationId: "cedit", messageId: id, senderId: "ub", content: "hijack" });
        const [e] = await b.inbox.take("messageError");
        assert.deepStrictEqual(e, { error: "Forbidden" });
        const [ackF] = await h.emitAck(b, "editMessage", { conversationId: "cedit", messageId: id, senderId: "ub", content: "hijack" });
        assert.deepStrictEqual(ackF, { status: "error", error: "Forbidden" });
        await c.assertNone([a, b], "messageEdited");
        await c.assertNone(a, "messageError", 0);
        assert.strictEqual((await c.history(server.url, "cedit")).messages.find((m) => m.id === id).content, "edited");

        // Unknown message.
        const [ackN] = await h.emitAck(a, "editMessage", { conversationId: "cedit", messageId: "nope", senderId: "ua", content: "x" });
        assert.deepStrictEqual(ackN, { status: "error", error: "Message not found" });
      }),
    );

    it("deleteMessage: soft delete, messageDeleted to the room; by someone else -> Forbidden", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const b = await connectAs(server.url);
        const outsider = await connectAs(server.url);
        await join(a, "cdel");
        await join(b, "cdel");
        const id = await send(a, msg("cdel", "ua", "delete me"));
        await c.takeAll([a, b], "receiveMessage");

        b.emit("deleteMessage", { conversationId: "cdel", messageId: id, senderId: "ub" });
        const [e] = await b.inbox.take("messageError");
        assert.deepStrictEqual(e, { error: "Forbidden" });
        await c.assertNone([a, b], "messageDeleted");

        const [ack] = await h.emitAck(a, "deleteMessage", { conversationId: "cdel", messageId: id, senderId: "ua" });
        assert.strictEqual(ack.status, "ok");
        for (const d of await c.takeAll([a, b], "messageDeleted")) {
          assert.deepStrictEqual(d, { conversationId: "cdel", messageId: id });
        }
        await c.assertNone(outsider, "messageDeleted");
        const stored = (await c.history(server.url, "cdel")).messages.find((m) => m.id === id);
        if (stored) assert.strictEqual(stored.deleted, true, "a soft-deleted message in the history must say deleted:true");

        const [ackN] = await h.emitAck(a, "deleteMessage", { conversationId: "cdel", messageId: "nope", senderId: "ua" });
        assert.deepStrictEqual(ackN, { status: "error", error: "Message not found" });
      }),
    );

    it("history: newest first, limit, before cursor, nextBefore null on the last page", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const ids = [];
        for (let i = 0; i < 5; i++) ids.push(await send(a, msg("cpage", "ua", `p${i}`)));
        const newestFirst = [...ids].reverse();

        const all = await c.history(server.url, "cpage");
        c.assertKeys(all, ["conversationId", "messages", "nextBefore"], "history");
        assert.strictEqual(all.conversationId, "cpage");
        assert.deepStrictEqual(all.messages.map((m) => m.id), newestFirst);
        assert.deepStrictEqual(all.messages.map((m) => m.content), ["p4", "p3", "p2", "p1", "p0"]);
        assert.strictEqual(all.nextBefore, null);
        for (const m of all.messages) c.assertMessageDoc(m, { conversationId: "cpage", senderId: "ua", type: "text", deleted: false });

        const p1 = await c.history(server.url, "cpage", { limit: 2 });
        assert.deepStrictEqual(p1.messages.map((m) => m.id), newestFirst.slice(0, 2));
        assert.notStrictEqual(p1.nextBefore, null);
        const p2 = await c.history(server.url, "cpage", { limit: 2, before: p1.nextBefore });
        assert.deepStrictEqual(p2.messages.map((m) => m.id), newestFirst.slice(2, 4));
        assert.notStrictEqual(p2.nextBefore, null);
        const p3 = await c.history(server.url, "cpage", { limit: 2, before: p2.nextBefore });
        assert.deepStrictEqual(p3.messages.map((m) => m.id), newestFirst.slice(4));
        assert.strictEqual(p3.nextBefore, null);

        // before = a message id: the older ones.
        const older = await c.history(server.url, "cpage", { before: ids[2] });
        assert.deepStrictEqual(older.messages.map((m) => m.id), [ids[1], ids[0]]);
        assert.strictEqual(older.nextBefore, null);

        // An unknown conversation is an empty page.
        const empty = await c.history(server.url, "never-used");
        assert.deepStrictEqual(empty, { conversationId: "never-used", messages: [], nextBefore: null });
      }),
    );

    it("history: default limit 50, at most 100", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const pending = [];
        for (let i = 0; i < 120; i++) pending.push(h.emitAck(a, "sendMessage", msg("cbig", "ua", `b${i}`)));
        await Promise.all(pending);
        const page = await c.history(server.url, "cbig");
        assert.strictEqual(page.messages.length, 50);
        assert.strictEqual(page.messages[0].content, "b119");
        assert.notStrictEqual(page.nextBefore, null);
        const max = await c.history(server.url, "cbig", { limit: 100 });
        assert.strictEqual(max.messages.length, 100);
        const rest = await c.history(server.url, "cbig", { limit: 100, before: max.nextBefore });
        assert.strictEqual(rest.messages.length, 20);
        assert.strictEqual(rest.messages[19].content, "b0");
        assert.strictEqual(rest.nextBefore, null);
      }),
    );

    it("POST /api/conversations/{id}/messages: 201, stored, receiveMessage to the room; 400 as messageError", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await connectAs(server.url);
        const outsider = await connectAs(server.url);
        await join(a, "cpost");
        const url = `${server.url}/api/conversations/cpost/messages`;
        const res = await c.httpJson(url, { method: "POST", body: { senderId: "http-user", content: "via http", type: "text" } });
        assert.strictEqual(res.status, 201, res.body);
        c.assertKeys(res.json, ["status", "message"], "POST answer");
        assert.strictEqual(res.json.status, "ok");
        c.assertMessageDoc(res.json.message, { conversationId: "cpost", senderId: "http-user", content: "via http", type: "text", deleted: false, readBy: [], deliveredTo: [] });
        const [r] = await a.inbox.take("receiveMessage");
        assert.deepStrictEqual(r, { conversationId: "cpost", message: res.json.message });
        await c.assertNone(outsider, "receiveMessage");
        const hist = await c.history(server.url, "cpost");
        assert.deepStrictEqual(hist.messages, [res.json.message]);

        for (const [body, error] of [
          [{ content: "x", type: "text" }, "Missing required fields"],
          [{ senderId: "u", type: "text" }, "Missing required fields"],
          [{ senderId: "u", content: "w".repeat(5001), type: "text" }, "Message too long"],
          [{ senderId: "u", content: "x", type: "sticker" }, "Invalid message type"],
        ]) {
          const bad = await c.httpJson(url, { method: "POST", body });
          assert.strictEqual(bad.status, 400, `${JSON.stringify(body).slice(0, 80)}: ${bad.status} ${bad.body}`);
          assert.deepStrictEqual(bad.json, { error });
        }
        await c.assertNone(a, "receiveMessage");
        assert.strictEqual((await c.history(server.url, "cpost")).messages.length, 1);
      }),
    );

    it("a restarted server on the same store keeps the history", TEST_TIMEOUT, async () => {
      let server = await c.startChat(ARGS);
      const db = server.db;
      try {
        const a = await connectAs(server.url);
        await join(a, "cpersist");
        const id1 = await send(a, msg("cpersist", "ua", "before restart 1"));
        const id2 = await send(a, msg("cpersist", "ua", "before restart 2"));
        a.emit("markRead", { conversationId: "cpersist", messageId: id1, userId: "ub" });
        await a.inbox.take("messageRead");
        const before = await c.history(server.url, "cpersist");
        assert.deepStrictEqual(before.messages.map((m) => m.id), [id2, id1]);
        await h.cleanup();
        const exit = await server.stop();
        assert.deepStrictEqual(exit, { code: 0, signal: null });

        server = await c.startChat(ARGS, { db });
        const after = await c.history(server.url, "cpersist");
        assert.deepStrictEqual(after, before);
        // New messages continue the same conversation.
        const b = await connectAs(server.url);
        const id3 = await send(b, msg("cpersist", "ub", "after restart"));
        assert.ok(![id1, id2].includes(id3), "a new message reused an old id");
        const later = await c.history(server.url, "cpersist");
        assert.deepStrictEqual(later.messages.map((m) => m.id), [id3, id2, id1]);
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });

    it("SIGTERM stores last_seen of the users still online; a restart shows them offline", TEST_TIMEOUT, async () => {
      let server = await c.startChat(ARGS);
      const db = server.db;
      try {
        const x = await connectAs(server.url, { userId: "seen-at-stop", username: "S" });
        assert.ok(x.connected);
        const t0 = Date.now();
        await h.delay(20);
        const exit = await server.stop();
        assert.deepStrictEqual(exit, { code: 0, signal: null });
        await h.cleanup();
        server = await c.startChat(ARGS, { db });
        const st = await c.httpJson(`${server.url}/api/users/seen-at-stop/status`, { headers: { "X-API-Key": API_KEY } });
        assert.strictEqual(st.status, 200, st.body);
        assert.strictEqual(st.json.id, "seen-at-stop");
        assert.strictEqual(st.json.is_online, false);
        c.assertIso(st.json.last_seen, "last_seen");
        assert.ok(Date.parse(st.json.last_seen) >= t0 - 1000, `last_seen ${st.json.last_seen} is older than the session`);
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });

    it("presence room: members in the ack and presence.members, user.joined / user.left by user", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const room = "presence-room1";
        // Every member carries connected_at (seed 001's getPresenceData): an ISO time, the
        // same for as long as the user stays; compared apart from the rest.
        const since = {};
        const bare = (m) => {
          assert.match(m.connected_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          since[m.user_id] ??= m.connected_at;
          assert.strictEqual(m.connected_at, since[m.user_id], `${m.user_id}'s connected_at changed`);
          const { connected_at: _, ...rest } = m;
          return rest;
        };
        const bareAll = (list) => list.map(bare);
        const alice = await connectAs(server.url, { userId: "pa", username: "Alice" });
        const [ackA] = await h.emitAck(alice, "joinRoom", room);
        assert.deepStrictEqual({ ...ackA, members: bareAll(ackA.members) }, {
          status: "ok",
          room,
          members: [{ user_id: "pa", user_info: { name: "Alice" } }],
        });
        const [pmA] = await alice.inbox.take("presence.members");
        assert.deepStrictEqual({ ...pmA, members: bareAll(pmA.members) }, {
          room,
          members: [{ user_id: "pa", user_info: { name: "Alice" } }],
        });

        const bob1 = await connectAs(server.url, { userId: "pb", username: "Bob" });
        const [ackB] = await h.emitAck(bob1, "joinRoom", { room });
        const byId = (x, y) => (x.user_id < y.user_id ? -1 : 1);
        const both = [{ user_id: "pa", user_info: { name: "Alice" } }, { user_id: "pb", user_info: { name: "Bob" } }];
        assert.strictEqual(ackB.status, "ok");
        assert.strictEqual(ackB.room, room);
        assert.deepStrictEqual(bareAll([...ackB.members].sort(byId)), both);
        const [pmB] = await bob1.inbox.take("presence.members");
        assert.strictEqual(pmB.room, room);
        assert.deepStrictEqual(bareAll([...pmB.members].sort(byId)), both);
        const [joined] = await alice.inbox.take("user.joined");
        assert.deepStrictEqual(bare(joined), { user_id: "pb", user_info: { name: "Bob" } });
        await c.assertNone(bob1, "user.joined");

        // Bob's second socket: still one member per user.
        const bob2 = await connectAs(server.url, { userId: "pb", username: "Bob" });
        const [ackB2] = await h.emitAck(bob2, "joinRoom", room);
        assert.deepStrictEqual(bareAll([...ackB2.members].sort(byId)), both);
        // Members are users: Bob was already there, so no second user.joined.
        await c.assertNone([alice, bob1], "user.joined");

        // One of Bob's sockets leaves: Bob is still there.
        const [left] = await h.emitAck(bob1, "leaveRoom", room);
        assert.deepStrictEqual(left, { status: "ok", room });
        await c.assertNone(alice, "user.left");
        // His last socket goes away: user.left to the room.
        bob2.disconnect();
        const [gone] = await alice.inbox.take("user.left");
        assert.deepStrictEqual(bare(gone), { user_id: "pb", user_info: { name: "Bob" } });
        await c.assertNone([alice, bob1], "user.left");

        // An anonymous socket is a member under its socket id.
        const anon = await connectAs(server.url);
        const [ackAnon] = await h.emitAck(anon, "joinRoom", room);
        assert.ok(ackAnon.members.some((m) => m.user_id === anon.id), JSON.stringify(ackAnon.members));
        const [j2] = await alice.inbox.take("user.joined");
        assert.strictEqual(j2.user_id, anon.id);
        // Alice's only socket leaves: user.left to the room.
        const [aliceLeft] = await h.emitAck(alice, "leaveRoom", { room });
        assert.deepStrictEqual(aliceLeft, { status: "ok", room });
        const [goneA] = await anon.inbox.take("user.left");
        assert.deepStrictEqual(goneA, { user_id: "pa", user_info: { name: "Alice" } });
        // presence.* is a presence room too.
        const [dot] = await h.emitAck(alice, "joinRoom", "presence.dotted");
        assert.deepStrictEqual(dot, { status: "ok", room: "presence.dotted", members: [{ user_id: "pa", user_info: { name: "Alice" } }] });
      }),
    );

    it("private-user.{id} admits only that user; private-chat.12-34 only 12 and 34", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const u12 = await connectAs(server.url, { userId: "12", username: "Twelve" });
        const u34 = await connectAs(server.url, { userId: "34", username: "ThirtyFour" });
        const u13 = await connectAs(server.url, { userId: "13", username: "Thirteen" });
        const anon = await connectAs(server.url);

        const [ok12] = await h.emitAck(u12, "joinRoom", "private-user.12");
        assert.deepStrictEqual(ok12, { status: "ok", room: "private-user.12" });
        for (const s of [u13, u34, anon]) {
          const [no] = await h.emitAck(s, "joinRoom", "private-user.12");
          assert.deepStrictEqual(no, { status: "error", error: "Forbidden" });
        }
        // Without an ack: `error` {message:"Forbidden: <room>"}.
        u13.emit("joinRoom", "private-user.12");
        const [e1] = await u13.inbox.take("error");
        assert.deepStrictEqual(e1, { message: "Forbidden: private-user.12" });
        u13.emit("join", { room: "private-user.12" });
        const [e2] = await u13.inbox.take("error");
        assert.deepStrictEqual(e2, { message: "Forbidden: private-user.12" });

        for (const s of [u12, u34]) {
          const [ok] = await h.emitAck(s, "joinRoom", "private-chat.12-34");
          assert.deepStrictEqual(ok, { status: "ok", room: "private-chat.12-34" });
        }
        const [okUnderscore] = await h.emitAck(u34, "joinRoom", "private-chat.12_34");
        assert.deepStrictEqual(okUnderscore, { status: "ok", room: "private-chat.12_34" });
        for (const s of [u13, anon]) {
          const [no] = await h.emitAck(s, "joinRoom", "private-chat.12-34");
          assert.deepStrictEqual(no, { status: "error", error: "Forbidden" });
        }
        // "1" and "234" are not parts of "12-34".
        const u1 = await connectAs(server.url, { userId: "1" });
        const [no1] = await h.emitAck(u1, "joinRoom", "private-chat.12-34");
        assert.deepStrictEqual(no1, { status: "error", error: "Forbidden" });
        anon.emit("joinRoom", "private-chat.12-34");
        const [e3] = await anon.inbox.take("error");
        assert.deepStrictEqual(e3, { message: "Forbidden: private-chat.12-34" });

        // The refused sockets are really not in the room.
        await send(u12, msg("private-chat.12-34", "12", "secret"));
        await c.takeAll([u12, u34], "receiveMessage");
        await c.assertNone([u13, anon, u1], "receiveMessage");
      }),
    );

    it("online status: user.status.changed on the first connect and the last disconnect; last_seen stored", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const watcher = await connectAs(server.url);
        const isUser = (id) => (ev) => ev && ev.user && ev.user.id === id;

        const x1 = await connectAs(server.url, { userId: "online1", username: "On" });
        const [on] = await watcher.inbox.take("user.status.changed", undefined, isUser("online1"));
        c.assertKeys(on, ["user"], "user.status.changed");
        c.assertKeys(on.user, ["id", "is_online", "last_seen"], "user.status.changed user");
        assert.strictEqual(on.user.is_online, true);
        const statusUrl = `${server.url}/api/users/online1/status`;
        const headers = { "X-API-Key": API_KEY };
        const st1 = await c.httpJson(statusUrl, { headers });
        assert.strictEqual(st1.status, 200, st1.body);
        c.assertKeys(st1.json, ["id", "is_online", "last_seen"], "status");
        assert.strictEqual(st1.json.id, "online1");
        assert.strictEqual(st1.json.is_online, true);

        const x2 = await connectAs(server.url, { userId: "online1", username: "On" });
        await c.assertNone(watcher, "user.status.changed", h.SETTLE_MS, isUser("online1"));
        x1.disconnect();
        await c.assertNone(watcher, "user.status.changed", h.SETTLE_MS, isUser("online1"));
        x2.disconnect();
        const [off] = await watcher.inbox.take("user.status.changed", undefined, isUser("online1"));
        c.assertKeys(off.user, ["id", "is_online", "last_seen"], "user.status.changed user");
        assert.strictEqual(off.user.is_online, false);
        c.assertIso(off.user.last_seen, "last_seen");
        const st2 = await c.httpJson(statusUrl, { headers });
        assert.deepStrictEqual(st2.json, { id: "online1", is_online: false, last_seen: off.user.last_seen });

        // Identity from identify counts too.
        const y = await connectAs(server.url);
        y.emit("identify", { userId: "online2", platform: "web", appVersion: "1" });
        const [on2] = await watcher.inbox.take("user.status.changed", undefined, isUser("online2"));
        assert.strictEqual(on2.user.is_online, true);
        y.disconnect();
        const [off2] = await watcher.inbox.take("user.status.changed", undefined, isUser("online2"));
        assert.strictEqual(off2.user.is_online, false);
        c.assertIso(off2.user.last_seen, "last_seen");
      }),
    );
  });
