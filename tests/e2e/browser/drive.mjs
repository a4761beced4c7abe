// Opens the journey page in Debian's headless Chromium (never a downloaded browser) and reports, as JSON on
// stdout, what the page did and everything the browser saw: console errors, failed requests (CORS failures
// included), HTTP errors and every request to the API and the Cognito endpoint.
//   node drive.mjs <page url> [timeout ms]
import { chromium } from 'playwright-core';

const [pageUrl, timeoutArg] = process.argv.slice(2);
const timeout = Number(timeoutArg || 60000);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const report = { console: [], consoleErrors: [], failedRequests: [], httpErrors: [], requests: [] };
try {
  const page = await (await browser.newContext()).newPage();
  page.on('console', (message) => {
    const entry = `${message.type()}: ${message.text()}`;
    report.console.push(entry);
    if (message.type() === 'error') report.consoleErrors.push(entry);
  });
  page.on('pageerror', (error) => report.consoleErrors.push(`pageerror: ${error.message}`));
  page.on('request', (request) => {
    report.requests.push({
      method: request.method(),
      url: request.url(),
      target: request.headers()['x-amz-target'] || null,
      at: Date.now(),
    });
  });
  page.on('requestfailed', (request) => {
    report.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) report.httpErrors.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.journey !== undefined, null, { timeout });
  report.journey = await page.evaluate(() => window.journey);
  report.shown = await page.evaluate(() => Object.fromEntries(
    ['email', 'name', 'points', 'name-after', 'phone-after', 'address-after', 'status']
      .map((id) => [id, document.getElementById(id).textContent])));
} catch (error) {
  report.driverError = String(error);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report));
