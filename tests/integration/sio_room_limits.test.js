// Rooms per socket: a join past --max-rooms-per-socket is refused with an answer, and
// joining many rooms costs each join O(log n) (it copied the socket's whole room set per
// join: 30,000 joins held the I/O thread for 18 s while other clients went unanswered).
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

if (!harness.isReference()) {
  describe("rooms per socket", () => {
    afterEach(() => h.cleanup());

    it("echo: joins past the limit are answered with an error; leaving frees a place", { timeout: 15000 }, async () => {
      const server = await harness.start(["--max-rooms-per-socket", "4"]);
      try {
        const s = await h.connect(server.url, { transports: ["websocket"] });
        // The socket's own id room counts: three more fit.
        for (const room of ["a", "b", "c"]) assert.deepStrictEqual(await h.emitAck(s, "join", room), [room]);
        assert.deepStrictEqual(await h.emitAck(s, "join", "d"), [{ error: "too many rooms" }]);
        assert.deepStrictEqual(await h.emitAck(s, "join", "a"), ["a"]); // already in: fine
        await h.emitAck(s, "leave", "b");
        assert.deepStrictEqual(await h.emitAck(s, "join", "d"), ["d"]);
        const [rooms] = await h.emitAck(s, "rooms");
        assert.deepStrictEqual(rooms.sort(), ["a", "c", "d", s.id].sort());
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });

    it("chat: a join past the limit is answered 'Too many rooms'", { timeout: 15000 }, () =>
      c.withChat(["--max-rooms-per-socket", "3"], async (server) => {
        const s = await c.chatConnect(server.url, { transports: ["websocket"] });
        const [ok] = await h.emitAck(s, "join", { room: "r1" });
        assert.strictEqual(ok.status, "ok");
        await h.emitAck(s, "join", { room: "r2" });
        const [refused] = await h.emitAck(s, "join", { room: "r3" });
        assert.deepStrictEqual(refused, { status: "error", error: "Too many rooms" });
      }),
    );

    it("the default limit: 999 joins and the own id room make 1000; the next join is refused; leaves free them", { timeout: 30000 }, async () => {
      const server = await harness.start();
      try {
        const s = await h.connect(server.url, { transports: ["websocket"] });
        const names = Array.from({ length: 999 }, (_, i) => `r${i}`);
        const joined = await Promise.all(names.map((room) => h.emitAck(s, "join", room)));
        assert.deepStrictEqual(joined.map((a) => a[0]), names);
        assert.deepStrictEqual(await h.emitAck(s, "join", "one-more"), [{ error: "too many rooms" }]);
        const [rooms] = await h.emitAck(s, "rooms");
        assert.deepStrictEqual(rooms.sort(), [...names, s.id].sort());
        // Each room was joined on the namespace's side too: a broadcast to the last reaches it.
        const got = h.once(s, "room-bc");
        await h.emitAck(s, "broadcast", { event: "room-bc", data: "x", rooms: ["r998"] });
        assert.deepStrictEqual(await got, ["x"]);
        await Promise.all(names.map((room) => h.emitAck(s, "leave", room)));
        const [left] = await h.emitAck(s, "rooms");
        assert.deepStrictEqual(left, [s.id]);
        assert.deepStrictEqual(await h.emitAck(s, "join", "one-more"), ["one-more"]);
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });

    it("one socket joins 30,000 rooms while another client keeps getting every answer", { timeout: 60000 }, async () => {
      const server = await harness.start(["--max-rooms-per-socket", "40000"]);
      try {
        const joiner = await h.connect(server.url, { transports: ["websocket"] });
        const other = await h.connect(server.url, { transports: ["websocket"] });
        const N = 30000;
        let acked = 0;
        const allJoined = new Promise((resolve) => {
          for (let i = 0; i < N; i++)
            joiner.emit("join", `room-${i}`, () => {
              if (++acked === N) resolve();
            });
        });
        // The other client's requests, sent while the joins are handled, are all answered.
        const answers = [];
        for (let i = 0; i < 20; i++) {
          answers.push(h.emitAck(other, "message-with-ack", i));
          await h.delay(10);
        }
        assert.deepStrictEqual((await Promise.all(answers)).map((a) => a[0]), [...Array(20).keys()]);
        await h.withTimeout(allJoined, 45000, "30,000 join acks");
        const [rooms] = await h.emitAck(joiner, "rooms");
        assert.strictEqual(rooms.length, N + 1);
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });
  });
}
