// Laravel Echo 2 over pusher-js 8, configured as a Laravel page configures it
// (broadcaster 'reverb', and 'pusher' with a cluster), against chat-server: private and
// presence channels authorized like Laravel's /broadcasting/auth, listen, whisper /
// listenForWhisper, here / joining / leaving, and a Laravel backend's publishing through
// the npm `pusher` library (our HTTP API).
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const harness = require("./harness");
const p = require("./pusher_helpers");

// The reference fixture (socket.io's echo) has no chat app and no Pusher apps.
if (harness.isReference()) return;

const T = { timeout: 20000 };
// Laravel's channel_data: the user's integer id and what the channel callback returned.
const alice = { user_id: 1, user_info: { id: 1, name: "Alice" } };
const bob = { user_id: 2, user_info: { id: 2, name: "Bob" } };

const byId = (a, b) => a.id - b.id;

for (const broadcaster of ["reverb", "pusher"]) {
  describe(`Echo (broadcaster '${broadcaster}')`, () => {
    afterEach(() => p.cleanup());

    it("connects with a socket id of the form N.N (Laravel's X-Socket-Id)", T, () =>
      p.withPusher([], async (server) => {
        const echo = await p.echoClient(server, { broadcaster });
        assert.match(echo.socketId(), p.SOCKET_ID_RE);
        assert.strictEqual(echo.connectionStatus(), "connected");
      }),
    );

    it("private('chat.1').listen('.message.sent') gets what the pusher library publishes", T, () =>
      p.withPusher([], async (server) => {
        const echo = await p.echoClient(server, { broadcaster });
        const channel = echo.private("chat.1");
        const inbox = p.echoListen(channel, ".message.sent");
        await p.echoSubscribed(channel);
        await p.serverLib(server).trigger("private-chat.1", "message.sent", { id: 7, body: "hello from Laravel" });
        const got = await inbox.take((e) => e.event === ".message.sent", ".message.sent");
        assert.deepStrictEqual(got.data, { id: 7, body: "hello from Laravel" });
      }),
    );

    it("listen('MessageSent') gets the event Laravel names App\\Events\\MessageSent, on every channel named", T, () =>
      p.withPusher([], async (server) => {
        const echo = await p.echoClient(server, { broadcaster });
        const one = echo.private("chat.1");
        const two = echo.private("chat.2");
        const [in1, in2] = [p.echoListen(one, "MessageSent"), p.echoListen(two, "MessageSent")];
        await Promise.all([p.echoSubscribed(one), p.echoSubscribed(two)]);
        // Laravel's PusherBroadcaster: one trigger for all of an event's channels.
        await p.serverLib(server).trigger(["private-chat.1", "private-chat.2"], "App\\Events\\MessageSent", {
          message: { id: 1, text: "to both" },
        });
        for (const inbox of [in1, in2]) {
          const got = await inbox.take(() => true, "App\\Events\\MessageSent");
          assert.deepStrictEqual(got.data, { message: { id: 1, text: "to both" } });
        }
      }),
    );

    it("->toOthers(): the socket id Laravel passes on leaves that client out", T, () =>
      p.withPusher([], async (server) => {
        const [sender, other] = await Promise.all([
          p.echoClient(server, { broadcaster }),
          p.echoClient(server, { broadcaster }),
        ]);
        const [cs, co] = [sender.private("chat.1"), other.private("chat.1")];
        const [is, io] = [p.echoListen(cs, ".message.sent"), p.echoListen(co, ".message.sent")];
        await Promise.all([p.echoSubscribed(cs), p.echoSubscribed(co)]);
        await p.serverLib(server).trigger("private-chat.1", "message.sent", { n: 1 }, { socket_id: sender.socketId() });
        await io.take(() => true, ".message.sent on the other client");
        await is.none(() => true, "the event on the client toOthers() excluded");
      }),
    );

    it("a private channel whose auth the server does not accept calls .error()", T, () =>
      p.withPusher([], async (server) => {
        const echo = await p.echoClient(server, {
          broadcaster,
          authorizer: (channel) => ({
            authorize(socketId, cb) {
              cb(null, { auth: `${p.APP.key}:${p.hmacHex("not-the-secret", `${socketId}:${channel.name}`)}` });
            },
          }),
        });
        const channel = echo.private("chat.1");
        const err = await h.withTimeout(new Promise((resolve) => channel.error(resolve)), 3000, ".error()");
        assert.ok(err !== undefined);
        assert.strictEqual(echo.connectionStatus(), "connected");
      }),
    );

    it("whisper('typing') reaches listenForWhisper('typing') of the others, not the sender", T, () =>
      p.withPusher([], async (server) => {
        const [a, b] = await Promise.all([p.echoClient(server, { broadcaster }), p.echoClient(server, { broadcaster })]);
        const [ca, cb] = [a.private("chat.1"), b.private("chat.1")];
        await Promise.all([p.echoSubscribed(ca), p.echoSubscribed(cb)]);
        const [ia, ib] = [new p.Inbox("a whispers"), new p.Inbox("b whispers")];
        ca.listenForWhisper("typing", (d) => ia.push(d));
        cb.listenForWhisper("typing", (d) => ib.push(d));
        ca.whisper("typing", { name: "Alice", typing: true });
        const got = await ib.take(() => true, "the whisper");
        assert.deepStrictEqual(got, { name: "Alice", typing: true });
        await ia.none(() => true, "its own whisper");
      }),
    );

    it("join('chat.1'): here lists the members, joining and leaving follow them, whisper works", T, () =>
      p.withPusher([], async (server) => {
        const a = await p.echoClient(server, { broadcaster, member: alice });
        const pa = a.join("chat.1");
        const joining = new p.Inbox("alice joining");
        const leaving = new p.Inbox("alice leaving");
        pa.joining((u) => joining.push(u)).leaving((u) => leaving.push(u));
        const hereA = await h.withTimeout(new Promise((resolve) => pa.here(resolve)), 3000, "here on alice");
        assert.deepStrictEqual(hereA, [alice.user_info]);

        const b = await p.echoClient(server, { broadcaster, member: bob });
        const pb = b.join("chat.1");
        const hereB = await h.withTimeout(new Promise((resolve) => pb.here(resolve)), 3000, "here on bob");
        assert.deepStrictEqual([...hereB].sort(byId), [alice.user_info, bob.user_info]);
        assert.deepStrictEqual(await joining.take(() => true, "joining"), bob.user_info);

        const whispers = new p.Inbox("alice whispers");
        pa.listenForWhisper("typing", (d) => whispers.push(d));
        pb.whisper("typing", { name: "Bob" });
        assert.deepStrictEqual(await whispers.take(() => true, "bob's whisper"), { name: "Bob" });

        b.leave("chat.1");
        assert.deepStrictEqual(await leaving.take(() => true, "leaving"), bob.user_info);
      }),
    );

    it("a member's second tab does not join twice, and leaving needs both tabs gone", T, () =>
      p.withPusher([], async (server) => {
        const a = await p.echoClient(server, { broadcaster, member: alice });
        const joining = new p.Inbox("alice joining");
        const leaving = new p.Inbox("alice leaving");
        const pa = a.join("chat.1").joining((u) => joining.push(u)).leaving((u) => leaving.push(u));
        await h.withTimeout(new Promise((resolve) => pa.here(resolve)), 3000, "here");
        const tabs = [];
        for (let i = 0; i < 2; i++) {
          const tab = await p.echoClient(server, { broadcaster, member: bob });
          const ch = tab.join("chat.1");
          const here = await h.withTimeout(new Promise((resolve) => ch.here(resolve)), 3000, `here on tab ${i}`);
          assert.strictEqual(here.length, 2, JSON.stringify(here));
          tabs.push(tab);
        }
        assert.deepStrictEqual(await joining.take(() => true, "joining"), bob.user_info);
        await joining.none(() => true, "a second joining for bob's second tab");
        tabs[0].disconnect();
        await leaving.none(() => true, "leaving while bob has a tab open", 600);
        tabs[1].disconnect();
        assert.deepStrictEqual(await leaving.take(() => true, "leaving"), bob.user_info);
      }),
    );
  });
}
