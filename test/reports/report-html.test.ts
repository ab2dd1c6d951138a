/**
 * The HTML report judged by a real browser: headless Chromium (Debian `chromium`, driven by
 * playwright-core) with JavaScript off. The totals on the page are the report's; the timeline has
 * one bar per day and station with issuance; no request leaves the page; a screenshot and a PDF
 * are written and not empty. Skipped, saying so, where Chromium is not installed (.ci/run installs it).
 */
import assert from "node:assert/strict";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildReport, generateDeviceCertificate, type Home, renderReportHtml, revokeCertificate, type ReportData } from "../../ca/index.js";
import { FIXED_NOW, makeHome, reopen, tempDir } from "../helpers/pki.js";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
const HOUR = 3_600_000;
const at = (ms: number) => () => new Date(FIXED_NOW.getTime() + ms);

describe("the HTML report in headless Chromium, JavaScript off", { timeout: 120_000, skip: CHROMIUM ? false : "Chromium is not installed (apt-get install chromium; .ci/run does)" }, () => {
  const t = tempDir();
  let home: Home;
  let report: ReportData;
  let file: string;
  before(async () => {
    home = await makeHome(t.dir);
    for (const [station, day, n] of [["line-7", 0, 3], ["line-8", 0, 2], ["line-7", 2, 1], ["<script>alert(1)</script>", 3, 1]] as const) {
      const h = await reopen(home, { operator: "bob", station, clock: at(day * 24 * HOUR + HOUR) });
      for (let i = 0; i < n; i++) await generateDeviceCertificate(h, `dev-${day}-${i}-${station.length}`);
    }
    const first = (await reopen(home, { clock: at(4 * 24 * HOUR) }));
    const list = [];
    for await (const r of first.inventory.query({ profile: "device" }, first.clock())) list.push(r.serial);
    await revokeCertificate(first, list[0]!, { reason: "keyCompromise" });
    await revokeCertificate(first, list[1]!, { reason: "superseded" });
    report = await buildReport(await reopen(home, { clock: at(5 * 24 * HOUR) }), { from: new Date(FIXED_NOW.getTime() - HOUR), to: new Date(FIXED_NOW.getTime() + 5 * 24 * HOUR) });
    file = join(t.dir, "report.html");
    writeFileSync(file, renderReportHtml(report));
  });
  after(() => t.cleanup());

  test("totals, bars, no outside request, screenshot and PDF", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({ executablePath: CHROMIUM!, args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"] });
    try {
      const context = await browser.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      const requests: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      await page.goto(`file://${file}`);
      assert.equal(await page.textContent("#total-issued"), String(report.issuance.total));
      assert.equal(await page.textContent("#total-revoked"), "2");
      assert.equal(await page.textContent("#audit-verdict"), "intact");
      // One bar per (day, station) with issuance: day 0 has two stations, days 2 and 3 one each; the init day's audit signer is on day 0 at station line-1.
      const bars = await page.$$eval("rect.bar", (rs) => rs.map((r) => `${r.getAttribute("data-day")}|${r.getAttribute("data-station")}`));
      const expected = Object.entries(report.issuance.byDay).flatMap(([d, s]) => Object.keys(s).map((st) => `${d}|${st}`));
      assert.deepEqual(bars.sort(), expected.sort());
      assert.equal(bars.length, 5);
      assert.equal(await page.$$eval("rect.reason-bar", (rs) => rs.length), 2);
      // A station named like a script is text, not markup.
      assert.equal(await page.$$eval("script", (s) => s.length), 0);
      assert.ok((await page.textContent("body"))!.includes("<script>alert(1)</script>"));
      // Accessible: real tables with header cells, the charts with a text alternative.
      assert.ok((await page.$$eval("table th[scope=col]", (t) => t.length)) > 10);
      assert.equal(await page.$$eval("svg[role=img] > title", (t) => t.length), 2);
      assert.deepEqual(requests.filter((u) => !u.startsWith("file://")), [], "no request leaves the page");
      const png = join(t.dir, "report.png");
      const pdf = join(t.dir, "report.pdf");
      await page.screenshot({ path: png, fullPage: true });
      await page.pdf({ path: pdf, format: "A4" });
      assert.ok(statSync(png).size > 10_000, "screenshot");
      assert.ok(statSync(pdf).size > 10_000, "PDF");
    } finally {
      await browser.close();
    }
  });
});
