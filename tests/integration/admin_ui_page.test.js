// socket.io's Admin UI page (@socket.io/admin-ui 0.5.1's own bundle) served by the server at
// /admin-ui/, in Debian's headless Chromium driven by npm playwright-core: the page comes up
// pointed at this server (its login form filled with the server's address), logs in with
// the password, lists the connected sockets and a room they joined, and follows a socket
// that connects later. Requests that leave the server (Google Fonts, the icon font's CDN)
// are refused, as on a machine without internet.
//
// ADMIN_UI_SCREENSHOT=/path.png chooses where the screenshot goes (default: the system's
// temporary folder, named in the test's output).
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const harness = require("./harness");
const h = require("./helpers");
const { launchChromium } = require("./browser");

const HASH = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS"; // "changeit"
const WAIT_MS = 8000;

if (!harness.isReference()) {
  let server;
  let browser;

  before(async () => {
    browser = await launchChromium();
    server = await harness.start(["--admin-ui", "true", "--admin-ui-password-hash", HASH], { app: "chat" });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    await h.cleanup();
    if (server) await server.stop();
  });

  test("the Admin UI logs in, lists the sockets and a room, and follows a new socket", { timeout: 60000 }, async () => {
    const alice = await h.connect(server.url, { transports: ["websocket"] });
    const joined = h.once(alice, "joined-room");
    alice.emit("join-room", "ops-room");
    await joined;

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const offline = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith(server.url)) return route.continue();
      offline.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));

    await page.goto(`${server.url}/admin-ui/`);
    // preset.js gave the UI this server: it tried to connect with no session, was told
    // "invalid credentials", and asks for them with the address filled in.
    const dialog = page.locator(".v-dialog--active");
    await dialog.getByText("Invalid credentials").waitFor();
    assert.equal(await dialog.getByLabel("Server URL").inputValue(), server.url);
    await dialog.getByLabel("Username").fill("admin");
    await dialog.getByLabel("Password").fill("changeit");
    await dialog.getByRole("button", { name: "Connect" }).click();
    await dialog.waitFor({ state: "hidden" });

    await page.goto(`${server.url}/admin-ui/#/sockets/`);
    await page.getByText(alice.id).first().waitFor();
    const bob = await h.connect(server.url, { transports: ["websocket"] });
    await page.getByText(bob.id).first().waitFor(); // socket_connected, live

    await page.goto(`${server.url}/admin-ui/#/rooms/`);
    await page.getByText("ops-room").first().waitFor();

    // The socket's own page: its rooms and its handshake.
    await page.goto(`${server.url}/admin-ui/#/n/%2F/sockets/${alice.id}`);
    await page.getByText("ops-room").first().waitFor();
    await page.getByText("127.0.0.1").first().waitFor();

    const shot = process.env.ADMIN_UI_SCREENSHOT || path.join(os.tmpdir(), "admin-ui.png");
    await page.goto(`${server.url}/admin-ui/#/sockets/`);
    await page.getByText(bob.id).first().waitFor();
    await page.waitForTimeout(1000); // the page's slide-in transition, for a clear picture
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(fs.statSync(shot).size > 10000, "a screenshot with something in it");
    console.log(`screenshot: ${shot}`);
    assert.deepEqual(errors, [], "no script errors on the page");
    await context.close();
  });
}
