// The administrator's page in headless Chromium, driven by ui.sh.
// Usage: node approve.mjs ADMIN_URL TOKEN_FILE WORK
// ui.sh starts the devices in turn once WORK/page.ready exists; this script
// waits for each on the page: cam-1 is approved, cam-2 rejected with the
// note "not ours", cam-3 (model "<b>x</b>") must show as text. Then cam-1 is
// revoked and released from the devices table. Prints ok/FAIL lines; exits
// non-zero on any failure. Leaves a screenshot in WORK/ui.png.
import { readFileSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [admin, tokenFile, work] = process.argv.slice(2);
if (!admin || !tokenFile || !work) {
  console.error('usage: node approve.mjs ADMIN_URL TOKEN_FILE WORK');
  process.exit(2);
}
const token = readFileSync(tokenFile, 'utf8').trim();
const DEVICE_WAIT_MS = 60_000;

let failed = 0;
const ok = (what) => console.log('  ok   [page] ' + what);
const bad = (what) => {
  failed++;
  console.log('  FAIL [page] ' + what);
};
const expect = (cond, what, detail) => (cond ? ok(what) : bad(what + (detail !== undefined ? ': ' + detail : '')));

// A hard bound, whatever hangs.
const deadline = setTimeout(() => {
  console.log('  FAIL [page] timed out');
  process.exit(1);
}, 160_000);

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
let page;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const pageErrors = [];
  const cspErrors = [];
  const dialogs = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
  });
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    d.accept();
  });

  const status = page.locator('#status');
  const pendingRow = (dev) => page.locator(`#pending-body tr[data-device-id="${dev}"]`);
  const deviceRow = (dev) => page.locator(`#devices-body tr[data-device-id="${dev}"]`);
  const cell = (row, field) => row.locator(`td[data-field="${field}"]`);
  const text = async (loc) => (await loc.textContent()) ?? '';
  const waitStatus = async (re) => {
    try {
      await page.waitForFunction((src) => new RegExp(src).test(document.getElementById('status').textContent),
                                 re.source, { timeout: 10_000 });
      return true;
    } catch {
      return false;
    }
  };

  // ---- the page and its headers
  const res = await page.goto(admin + '/ui');
  const h = res.headers();
  expect(res.status() === 200, 'GET /ui answers 200', res.status());
  const csp = h['content-security-policy'] ?? '';
  expect(csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'"), 'the page carries its CSP', csp);
  expect(h['x-content-type-options'] === 'nosniff', 'the page carries nosniff');
  expect((await page.title()) === 'IRP admin', 'the title before signing in', await page.title());
  expect(await page.locator('#login').isVisible(), 'the sign-in form is shown');

  // ---- a wrong token: an error in the status line, still on the sign-in form
  await page.fill('#token', 'not-the-token');
  await page.click('#sign-in');
  const refused = await waitStatus(/missing or wrong bearer token/);
  expect(refused, 'a wrong token shows the API error in the status line', await text(status));
  expect((await status.getAttribute('data-kind')) === 'error', '... marked as an error');
  expect((await text(status)).includes('bad_argument'), '... with the error name', await text(status));
  expect(await page.locator('#login').isVisible(), '... and the sign-in form stays');
  expect(!(await page.locator('#app').isVisible()), '... and no data is shown');
  expect((await page.evaluate(() => sessionStorage.getItem('irp-admin-token'))) === null, '... and the wrong token is not kept');

  // ---- sign in
  await page.fill('#token', token);
  await page.click('#sign-in');
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.waitForFunction(() => Number(document.getElementById('app').dataset.polls || 0) >= 1);
  ok('signed in with the token');
  expect((await page.evaluate(() => sessionStorage.getItem('irp-admin-token'))) === token,
         'the token is kept in sessionStorage');
  expect((await page.evaluate(() => localStorage.length)) === 0, '... and nothing in localStorage');
  expect((await page.locator('#pending-body tr').count()) === 0, 'nothing pending yet');
  expect((await page.title()) === 'IRP admin', 'the title shows no count', await page.title());
  writeFileSync(work + '/page.ready', '');

  // ---- cam-1: approve
  const r1 = pendingRow('cam-1');
  await r1.waitFor({ timeout: DEVICE_WAIT_MS });
  ok('cam-1 appears in the pending table');
  expect((await text(cell(r1, 'model'))) === 'Cam 2000', '... with its model', await text(cell(r1, 'model')));
  expect((await text(cell(r1, 'class'))) === 'default', '... its class', await text(cell(r1, 'class')));
  expect(/^[0-9a-f]{16}$/.test(await text(cell(r1, 'key'))), '... the key fingerprint (16 hex)', await text(cell(r1, 'key')));
  expect((await text(cell(r1, 'peer'))).startsWith('127.0.0.1'), '... the source address', await text(cell(r1, 'peer')));
  expect((await text(cell(r1, 'reason'))) === 'approval', '... the reason', await text(cell(r1, 'reason')));
  expect(!['', '—'].includes(await text(cell(r1, 'first'))), '... first seen', await text(cell(r1, 'first')));
  expect(Number(await text(cell(r1, 'asks'))) >= 1, '... asks', await text(cell(r1, 'asks')));
  await page.waitForFunction(() => document.title === '(1) IRP admin').catch(() => {});
  expect((await page.title()) === '(1) IRP admin', 'the title shows the pending count', await page.title());
  expect(await page.locator('#new-badge').isVisible(), 'a badge announces the new request');
  expect((await page.locator('#new-badge').getAttribute('data-new-count')) === '1', '... counting 1');
  expect(await r1.evaluate((tr) => tr.classList.contains('fresh')), '... and the row is marked new');
  await r1.locator('button[data-action="approve"]').click();
  await r1.waitFor({ state: 'detached' }).catch(() => {});
  expect((await r1.count()) === 0, 'Approve removes the row');
  expect(await waitStatus(/^Approved cam-1/), '... and says so', await text(status));
  expect((await page.title()) === 'IRP admin', 'the title drops the count', await page.title());
  expect(!(await page.locator('#new-badge').isVisible()), '... and the badge goes with the request');

  // ---- cam-2: reject with a note
  const r2 = pendingRow('cam-2');
  await r2.waitFor({ timeout: DEVICE_WAIT_MS });
  ok('cam-2 appears in the pending table');
  expect(await page.locator('#new-badge').isVisible(), 'the badge shows again for it');
  await page.click('#new-badge');
  expect(!(await page.locator('#new-badge').isVisible()), 'clicking the badge dismisses it');
  expect(!(await r2.evaluate((tr) => tr.classList.contains('fresh'))), '... and unmarks the row');
  const note = r2.locator('input[data-field="note"]');
  expect(!(await note.isVisible()), 'the note field is hidden until Reject');
  await r2.locator('button[data-action="reject"]').click();
  expect(await note.isVisible(), 'Reject opens the note field');
  // A poll in between must not wipe what is being typed.
  await note.fill('not ours');
  const polls = await page.evaluate(() => Number(document.getElementById('app').dataset.polls));
  await page.waitForFunction((n) => Number(document.getElementById('app').dataset.polls) > n, polls);
  expect((await note.inputValue()) === 'not ours', 'the note survives a poll', await note.inputValue());
  await r2.locator('button[data-action="confirm-reject"]').click();
  await r2.waitFor({ state: 'detached' }).catch(() => {});
  expect((await r2.count()) === 0, 'the rejection removes the row');
  expect(await waitStatus(/^Rejected cam-2 with the note "not ours"/), '... and says so', await text(status));

  // ---- cam-3: HTML in the model is text
  const r3 = pendingRow('cam-3');
  await r3.waitFor({ timeout: DEVICE_WAIT_MS });
  ok('cam-3 appears in the pending table');
  expect((await text(cell(r3, 'model'))) === '<b>x</b>', 'the model "<b>x</b>" is shown literally', await text(cell(r3, 'model')));
  expect((await page.locator('#pending-table b').count()) === 0, '... and makes no <b> element');
  expect((await page.locator('b').count()) === 0, '... anywhere on the page');
  await page.waitForFunction(() => document.title === '(1) IRP admin').catch(() => {});
  expect((await page.title()) === '(1) IRP admin', 'the title counts it', await page.title());

  // ---- devices: cam-1 is listed; revoke, then release (each after confirm())
  const d1 = deviceRow('cam-1');
  for (let i = 0; i < 20 && (await d1.count()) === 0; i++) {
    await page.click('#devices-refresh');
    await page.waitForTimeout(250);
  }
  expect((await d1.count()) === 1, 'the approved device is in the devices table');
  expect((await text(cell(d1, 'released'))) === 'no', '... not released', await text(cell(d1, 'released')));
  expect((await deviceRow('cam-2').count()) === 0, 'the rejected device is not');
  await d1.locator('button[data-action="revoke"]').click();
  expect(await waitStatus(/^Revoked 1 certificate of cam-1/), 'Revoke revokes its certificate', await text(status));
  expect(dialogs.some((m) => m.startsWith('Revoke every certificate of cam-1')), '... after a confirm()', dialogs.join(' | '));
  await d1.locator('button[data-action="release"]').click();
  expect(await waitStatus(/^Released cam-1/), 'Release releases it', await text(status));
  expect(dialogs.some((m) => m.startsWith('Release cam-1?')), '... after a confirm()', dialogs.join(' | '));
  await page.waitForFunction(() => {
    const td = document.querySelector('#devices-body tr[data-device-id="cam-1"] td[data-field="released"]');
    return td && td.textContent.startsWith('yes');
  }).catch(() => {});
  expect((await text(cell(d1, 'released'))).startsWith('yes'), '... and the table shows it released', await text(cell(d1, 'released')));
  expect(await d1.locator('button[data-action="release"]').isDisabled(), '... with Release disabled');

  // ---- surge guard: off in this domain, said so
  expect((await text(page.locator('#surge-policy'))).includes('off'), 'the surge guard section says it is off',
         await text(page.locator('#surge-policy')));
  expect(await page.locator('#surge-empty').isVisible(), '... and lists no active class');

  expect(pageErrors.length === 0, 'no script errors', pageErrors.join(' | '));
  expect(cspErrors.length === 0, 'no CSP violations', cspErrors.join(' | '));
} catch (e) {
  bad('unexpected: ' + (e && e.message ? e.message.split('\n')[0] : String(e)));
} finally {
  if (page) await page.screenshot({ path: work + '/ui.png', fullPage: true }).catch(() => {});
  await browser.close();
  clearTimeout(deadline);
}
console.log(failed === 0 ? '  ok   [page] all page checks passed' : `  FAIL [page] ${failed} page check(s) failed`);
process.exit(failed === 0 ? 0 : 1);
