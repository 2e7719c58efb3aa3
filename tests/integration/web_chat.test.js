// End-to-end test of the chat page (docs/chat-protocol.md §7) in Debian's headless
// Chromium, driven by npm playwright-core (which downloads no browser): two users in one
// conversation see each other online, see each other's messages and typing, a reload
// shows the history, and a page whose socket is down sends over HTTP.
//
// WEB_CHAT_SCREENSHOT=/tmp/web-chat.png saves a screenshot of the first page at the end.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const path = require("node:path");
const harness = require("./harness");
const { launchChromium } = require("./browser");

const WEB_ROOT = path.resolve(__dirname, "../../apps/chat-server/web");
const WAIT_MS = 5000; // every single wait
const TEST_TIMEOUT_MS = 60000;

if (!harness.isReference()) {
  let server;
  let browser;
  const pageErrors = [];

  before(async () => {
    browser = await launchChromium();
    server = await harness.start(["--web-root", WEB_ROOT], { app: "chat" });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
  });

  /** A page of its own browser context (own cookies/storage), signed in as user. */
  async function openPage(user, conversation) {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    page.on("pageerror", (err) => pageErrors.push(`${user}: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageErrors.push(`${user}: console: ${msg.text()} (${msg.location().url})`);
    });
    await page.goto(`${server.url}/?user=${encodeURIComponent(user)}`);
    await waitConnected(page);
    await page.fill("#conversation-id", conversation);
    await page.click("#join-button");
    await page.locator("#conversation-title").filter({ hasText: conversation }).waitFor();
    await page.locator('#messages[data-history-loaded="true"]').waitFor({ state: "attached" });
    return page;
  }

  function waitConnected(page) {
    return page.locator('#connection-status[data-state="connected"]').waitFor();
  }

  /** The message list item whose content is exactly text. */
  function message(page, text) {
    return page.locator('#messages [data-testid="message"]').filter({
      has: page.locator('[data-testid="message-content"]', { hasText: text }),
    });
  }

  function onlineUser(page, userId) {
    return page.locator(`#online-list [data-testid="online-user"][data-user-id="${userId}"]`);
  }

  async function sendFromPage(page, text) {
    await page.fill("#message-input", text);
    await page.press("#message-input", "Enter");
  }

  test("two users chat through the web page", { timeout: TEST_TIMEOUT_MS }, async () => {
    const conversation = `web-e2e-${process.pid}-${Date.now()}`;

    // The page and the client bundle are served by the server itself.
    const res = await fetch(`${server.url}/socket.io/socket.io.js`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /Socket\.IO v4/);

    const pageA = await openPage("alice", conversation);
    const pageB = await openPage("bob", conversation);
    assert.equal(await messageCount(pageA), 0, "a new conversation has no history");

    // presence: each sees both (members from the ack, then user.joined)
    for (const page of [pageA, pageB]) {
      await onlineUser(page, "alice").waitFor();
      await onlineUser(page, "bob").waitFor();
    }
    assert.match(await onlineUser(pageA, "alice").innerText(), /\(you\)/);

    // typing: B types, A sees it; the indicator clears 2 s after B's last keystroke
    await pageB.locator("#message-input").pressSequentially("Hi Ali");
    await pageA.locator("#typing-indicator").filter({ hasText: "bob is typing" }).waitFor();
    await pageA.waitForFunction(
      () => document.getElementById("typing-indicator").textContent === "",
      null,
      { timeout: WAIT_MS },
    );
    await pageB.fill("#message-input", "");

    // A sends: both pages show it, once
    await sendFromPage(pageA, "Hello from Alice");
    await message(pageA, "Hello from Alice").waitFor();
    await message(pageB, "Hello from Alice").waitFor();
    assert.equal(await message(pageA, "Hello from Alice").count(), 1);
    assert.equal(await message(pageB, "Hello from Alice").locator('[data-testid="message-sender"]').innerText(), "alice");
    assert.equal(await pageA.locator("#message-input").inputValue(), "", "the input is cleared after sending");

    // B answers
    await sendFromPage(pageB, "Hi Alice, Bob here");
    await message(pageA, "Hi Alice, Bob here").waitFor();
    await message(pageB, "Hi Alice, Bob here").waitFor();
    assert.deepEqual(await contents(pageA), ["Hello from Alice", "Hi Alice, Bob here"]);

    // reload B: the conversation stays in the URL, the history comes back in order
    assert.match(pageB.url(), new RegExp(`conversation=${conversation}`));
    await pageB.reload();
    await waitConnected(pageB);
    await message(pageB, "Hi Alice, Bob here").waitFor();
    assert.deepEqual(await contents(pageB), ["Hello from Alice", "Hi Alice, Bob here"]);
    await onlineUser(pageB, "alice").waitFor();
    await onlineUser(pageA, "bob").waitFor();

    // A's socket goes down: the page sends over HTTP, B still gets it live
    await pageA.evaluate(() => window.chat.socket.disconnect());
    await pageA.locator('#connection-status[data-state="disconnected"]').waitFor();
    await sendFromPage(pageA, "Sent over HTTP");
    await message(pageA, "Sent over HTTP").waitFor();
    await message(pageB, "Sent over HTTP").waitFor();
    // bob sees alice leave
    await onlineUser(pageB, "alice").waitFor({ state: "detached" });
    // A reconnects and rejoins the conversation
    await pageA.evaluate(() => window.chat.socket.connect());
    await waitConnected(pageA);
    await onlineUser(pageB, "alice").waitFor();
    await onlineUser(pageA, "bob").waitFor();
    assert.deepEqual(await contents(pageA), ["Hello from Alice", "Hi Alice, Bob here", "Sent over HTTP"]);
    assert.equal(await pageA.locator("#error").innerText(), "");

    if (process.env.WEB_CHAT_SCREENSHOT) {
      await pageA.screenshot({ path: process.env.WEB_CHAT_SCREENSHOT, fullPage: true });
    }
    assert.deepEqual(pageErrors, []);
  });

  async function contents(page) {
    return page.locator('#messages [data-testid="message-content"]').allInnerTexts();
  }

  async function messageCount(page) {
    return page.locator('#messages [data-testid="message"]').count();
  }
}
