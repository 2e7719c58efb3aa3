// Debian's headless Chromium driven by npm playwright-core (which downloads no browser),
// for the tests of pages in a real browser.
"use strict";

const fs = require("node:fs");

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Launches Chromium (an Error naming scripts/setup.sh when it is not installed). launch()
 * runs the browser on a fresh temporary profile (user-data-dir) that playwright removes on
 * close.
 */
async function launchChromium() {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh --test`);
  const { chromium } = require("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 20000 });
}

module.exports = { CHROMIUM, CHROMIUM_ARGS, launchChromium };
