// Drives pages in headless Chromium (Debian's /usr/bin/chromium) for
// php-tests/BrowserTest.php. Reads one command per line on stdin, answers one
// line on stdout (JSON, or an `error: …` line):
//
//   open NAME URL        open URL in a fresh context, wait for #status = connected
//   send NAME TEXT       type TEXT in #text and submit the form
//   wait NAME COUNT      wait until NAME shows COUNT .message items; answer their texts
//   messages NAME        the texts of NAME's .message items now
//   status NAME          NAME's #status text
//   eval NAME EXPR       the value of the JavaScript expression EXPR in NAME's page
//   until NAME ID TEXT   wait until NAME's #ID text is TEXT; answer it
//   text NAME ID         NAME's #ID text
//   screenshot NAME PATH
//   quit
//
// Every wait is bounded (TIMEOUT_MS); the process exits by itself after
// LIFETIME_MS whatever happens.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const TIMEOUT_MS = 15000;
const LIFETIME_MS = 120000;
setTimeout(() => { console.log('error: lifetime exceeded'); process.exit(3); }, LIFETIME_MS).unref();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const pages = new Map();
const texts = (page) => page.$$eval('.message', (els) => els.map((e) => e.textContent));

async function run(line) {
  const [cmd, name, ...rest] = line.split(' ');
  const arg = rest.join(' ');
  const page = pages.get(name);
  switch (cmd) {
    case 'open': {
      const context = await browser.newContext();
      const p = await context.newPage();
      await p.goto(arg, { timeout: TIMEOUT_MS });
      await p.waitForFunction(() => document.getElementById('status')?.textContent === 'connected', null, { timeout: TIMEOUT_MS });
      pages.set(name, p);
      return { ok: true };
    }
    case 'send':
      await page.fill('#text', arg);
      await page.click('button');
      return { ok: true };
    case 'wait':
      await page.waitForFunction((n) => document.querySelectorAll('.message').length >= n, Number(arg), { timeout: TIMEOUT_MS });
      return texts(page);
    case 'messages':
      return texts(page);
    case 'status':
      return page.$eval('#status', (e) => e.textContent);
    case 'eval':
      return page.evaluate(arg);
    case 'until': {
      const [id, ...words] = rest;
      const want = words.join(' ');
      await page.waitForFunction(([i, w]) => document.getElementById(i)?.textContent === w, [id, want], { timeout: TIMEOUT_MS });
      return page.$eval('#' + id, (e) => e.textContent);
    }
    case 'text':
      return page.$eval('#' + arg, (e) => e.textContent);
    case 'screenshot':
      await page.screenshot({ path: arg });
      return { ok: true };
    case 'quit':
      await browser.close();
      process.exit(0);
    default:
      throw new Error(`unknown command ${cmd}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
for await (const line of rl) {
  try {
    console.log(JSON.stringify(await run(line.trim())));
  } catch (e) {
    console.log('error: ' + String(e.message || e).split('\n')[0]);
  }
}
await browser.close();
