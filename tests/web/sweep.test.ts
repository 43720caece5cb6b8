// A sweep in real Chromium, at 1280×800 and at a phone's 390×844: the runs list shows it as one
// collapsed row whose progress bar moves live; the group page has one row per point with its params and
// output, sorting by the output orders the rows, the chart has one mark per point; Cancel asks first
// (dismissing cancels nothing, confirming cancels every run and the counts say so); nothing scrolls
// sideways on a phone and the Pause button is on screen. Screenshots go to <test root>/shots.
import { expect, beforeAll, afterAll } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, waitFor, type TestServer } from '../helpers/server.ts';
import { openBrowser, browserTest, SKIP_BROWSER, login, textOf, waitText, nullTexts, type Browser } from './helpers.ts';

let s: TestServer;
const browsers: Browser[] = [];
beforeAll(async () => { if (!SKIP_BROWSER) s = await startServer(['--max-parallel', '2']); });
afterAll(async () => { for (const b of browsers) await b.close(); await s?.stop(); });

const LR = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], SEED = [1, 2];
/** loss = "<seed><lr>" (10.1 … 20.6): numeric text, so its order is known */
const sweepSpec = (name: string, gate: string) => ({
  name, workspace: s.root, matrix: { lr: LR, seed: SEED },
  stages: [{ name: 'fit', jobs: [{ name: 'train', commands: [`while [ ! -e ${gate} ]; do sleep 0.05; done; sleep 0.3; echo "loss=\${{ params.seed }}\${{ params.lr }}" >> "$DROVER_OUTPUT"`] }] }],
});
const noSideways = (b: Browser) => b.page.evaluate(() => ({ doc: document.documentElement.scrollWidth, view: window.innerWidth }));

for (const vp of [{ width: 1280, height: 800, tag: 'desktop' }, { width: 390, height: 844, tag: 'phone' }]) {
  browserTest(`${vp.tag} ${vp.width}×${vp.height}: a 12-point sweep collapsed in the list with a live progress bar; its results table sorts; its chart has a mark per point`, async () => {
    const b = await openBrowser(join(s.root, `shots-${vp.tag}`), { width: vp.width, height: vp.height });
    browsers.push(b);
    const gate = join(s.root, `gate-${vp.tag}`);
    const out = await s.submit(sweepSpec(`web-sweep-${vp.tag}`, gate));
    const gid = out.group.id;
    await login(b, s, '#/runs');
    const grow = `tr.grouprow[data-group="${gid}"]`;
    await b.page.locator(grow).waitFor({ timeout: 10_000 });
    // one row for the whole sweep: none of its 12 runs is listed on its own
    for (const r of out.runs) expect(await b.page.locator(`tr.run[data-id="${r.id}"]`).count()).toBe(0);
    expect(await textOf(b.page, grow)).toContain('12 runs');
    expect(await textOf(b.page, `${grow} [data-count=succeeded]`)).toBe('0 succeeded');
    // the progress bar moves live: record every succeeded count the row shows until all 12 are done
    await b.page.evaluate((sel) => {
      const seen: string[] = ((window as any).__seen = []);
      (window as any).__sameDocument = true;
      new MutationObserver(() => { const t = document.querySelector(`${sel} [data-count=succeeded]`)?.textContent; if (t && seen.at(-1) !== t) seen.push(t); })
        .observe(document.querySelector('table.runs')!, { subtree: true, childList: true, characterData: true });
    }, grow);
    writeFileSync(gate, '');
    await waitText(b.page, `${grow} [data-count=succeeded]`, '12 succeeded', 40_000);
    const seen: string[] = await b.page.evaluate(() => (window as any).__seen);
    expect(seen.some((t) => /^([1-9]|1[01]) succeeded$/.test(t))).toBe(true); // an in-between value was shown
    expect(await b.page.evaluate(() => (window as any).__sameDocument)).toBe(true);
    const seg = await b.page.locator(`${grow} .seg.st-succeeded`).boundingBox();
    const bar = await b.page.locator(`${grow} .progress`).boundingBox();
    expect(Math.abs(seg!.width - bar!.width)).toBeLessThan(2); // all green
    expect((await noSideways(b)).doc).toBeLessThanOrEqual(vp.width);
    await b.shot('runs-sweep-collapsed');
    // it expands into its runs (the first 12), and a click on a run row opens that run
    await b.page.locator(`${grow} button.expand`).click();
    await waitFor(async () => (await b.page.locator('tr.run.sub').count()) === 12, { what: '12 runs under the group row' });
    await b.shot('runs-sweep-expanded');

    // the group page: progress, one row per point with its params and its output
    await b.page.locator(`${grow} a[href="#/group/${gid}"]`).click();
    await waitText(b.page, 'main h1', `Sweep ${gid}`);
    await b.page.locator('table.results-table tbody tr[data-run]').first().waitFor();
    expect(await b.page.locator('table.results-table tbody tr[data-run]').count()).toBe(12);
    const head = await b.page.locator('table.results-table thead th').allTextContents();
    expect(head.slice(0, 5)).toEqual(['run', 'status', 'lr', 'seed', 'loss']);
    const row0 = await b.page.locator(`table.results-table tr[data-run="${out.runs[0].id}"] td`).allTextContents();
    expect(row0.slice(1, 5)).toEqual(['succeeded', String(out.runs[0].params.lr), String(out.runs[0].params.seed), `${out.runs[0].params.seed}${out.runs[0].params.lr}`]);
    // sorting by the output orders the rows, both ways
    const losses = () => b.page.locator('table.results-table tbody tr td:nth-child(5)').allTextContents();
    const want = SEED.flatMap((sd) => LR.map((lr) => `${sd}${lr}`));
    await b.page.locator('table.results-table th[data-key="o:loss"]').click();
    expect(await losses()).toEqual(want);
    await b.page.locator('table.results-table th[data-key="o:loss"]').click();
    expect(await losses()).toEqual([...want].reverse());
    expect(await b.page.locator('th[data-key="o:loss"]').getAttribute('aria-sort')).toBe('descending');
    // the chart: one mark per point; a line per seed when asked
    await b.page.locator('svg.chart circle.mark').first().waitFor();
    expect(await b.page.locator('svg.chart circle.mark').count()).toBe(12);
    await b.page.locator('select[name=by]').selectOption('seed');
    expect(await b.page.locator('svg.chart polyline.series').count()).toBe(2);
    expect(await b.page.locator('svg.chart circle.mark').count()).toBe(12);
    expect((await noSideways(b)).doc).toBeLessThanOrEqual(vp.width);
    expect(await nullTexts(b.page)).toEqual([]);
    await b.shot('group-results');
    expect(b.errors).toEqual([]);
  }, 90_000);
}

browserTest('Cancel of a group asks first: dismissing cancels nothing, confirming cancels all; the counts include the canceled; at 390×844 Pause is on screen', async () => {
  const b = await openBrowser(join(s.root, 'shots-cancel'), { width: 390, height: 844 });
  browsers.push(b);
  const gate = join(s.root, 'gate-never');
  const out = await s.submit({ name: 'web-cancel', workspace: s.root, matrix: { i: [1, 2, 3, 4, 5, 6, 7, 8] }, stages: [{ name: 'x', jobs: [{ name: 'wait', commands: [`while [ ! -e ${gate} ]; do sleep 0.05; done`] }] }] });
  const gid = out.group.id;
  await login(b, s, `#/group/${gid}`);
  await waitText(b.page, 'main h1', `Sweep ${gid}`);
  await s.waitGroup(gid, (g) => g.counts.running === 2);
  // the queue on a phone: the group's buttons are on screen, the page does not scroll sideways
  await b.page.evaluate(() => { location.hash = '#/queue'; });
  const qPause = b.page.locator(`#groups .grp[data-id="${gid}"] button`, { hasText: 'Pause' });
  await qPause.waitFor({ timeout: 10_000 });
  const qBox = (await qPause.boundingBox())!;
  expect(qBox.x + qBox.width).toBeLessThanOrEqual(390);
  const qCancel = (await b.page.locator(`#groups .grp[data-id="${gid}"] button`, { hasText: 'Cancel group' }).boundingBox())!;
  expect(qCancel.x + qCancel.width).toBeLessThanOrEqual(390);
  expect((await noSideways(b)).doc).toBeLessThanOrEqual(390);
  await b.shot('queue-phone');
  await b.page.evaluate((h) => { location.hash = h; }, `#/group/${gid}`);
  await waitText(b.page, 'main h1', `Sweep ${gid}`);
  // on a phone: the page does not scroll sideways and Pause is inside the viewport
  const pause = b.page.locator('main button', { hasText: 'Pause' });
  await pause.waitFor();
  const box = (await pause.boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(390);
  expect(box.y + box.height).toBeLessThanOrEqual(844);
  expect((await noSideways(b)).doc).toBeLessThanOrEqual(390);
  await b.shot('group-phone');

  await b.page.locator('main button', { hasText: 'Cancel group' }).click();
  const dialog = b.page.locator('dialog#confirm');
  await dialog.waitFor();
  expect(await textOf(b.page, 'dialog#confirm')).toContain('This stops 8 runs (2 running, 6 queued)');
  await b.shot('cancel-asks');
  await b.page.locator('dialog#confirm button[data-confirm=no]').click();
  await dialog.waitFor({ state: 'detached' });
  await Bun.sleep(500);
  const kept = (await s.api('GET', `/groups/${gid}`)).body;
  expect(kept.status).not.toBe('canceled');
  expect(kept.counts.canceled).toBe(0);

  await b.page.locator('main button', { hasText: 'Cancel group' }).click();
  await b.page.locator('dialog#confirm button[data-confirm=yes]').click();
  const done = await s.waitGroup(gid, (g) => g.status === 'canceled');
  expect(done.counts.canceled).toBe(8);
  await waitText(b.page, '#g-total', '8 canceled');
  await waitText(b.page, 'main [data-count=canceled]', '8 canceled');
  expect(await textOf(b.page, 'main h1 .badge')).toBe('canceled');
  expect((await noSideways(b)).doc).toBeLessThanOrEqual(390);
  await b.shot('group-canceled');
  // the list, the queue and a run page fit the phone too
  for (const hash of ['#/runs', '#/queue', `#/run/${out.runs[0].id}`, `#/job/${(await s.api('GET', `/runs/${out.runs[0].id}`)).body.stages[0].jobs[0].id}`]) {
    await b.page.evaluate((h) => { location.hash = h; }, hash);
    await b.page.waitForFunction(() => !document.querySelector('main')?.textContent?.includes('Loading'), undefined, { timeout: 10_000 });
    await Bun.sleep(300);
    expect({ hash, ...(await noSideways(b)) }).toEqual({ hash, doc: expect.any(Number), view: 390 });
    expect((await noSideways(b)).doc).toBeLessThanOrEqual(390);
    expect(await nullTexts(b.page)).toEqual([]);
    await b.shot(`phone-${hash.split('/')[1]}`);
  }
  const header = (await b.page.locator('header.top').boundingBox())!;
  expect(header.height).toBeLessThan(60); // one line, not wrapped
  expect(b.errors).toEqual([]);
}, 90_000);

browserTest('a 150-run sweep: the results table shows 100 rows a page, pages on, and sorts across pages', async () => {
  const b = await openBrowser(join(s.root, 'shots-pager'));
  browsers.push(b);
  const out = await s.submit({ name: 'web-pager', workspace: s.root, matrix: { i: Array.from({ length: 150 }, (_, i) => i) }, stages: [{ name: 'x', jobs: [{ name: 'w', commands: ['sleep 30'] }] }] });
  const gid = out.group.id;
  expect((await s.api('POST', `/groups/${gid}/cancel`)).status).toBe(200);
  await s.waitGroup(gid, (g) => g.status === 'canceled');
  await login(b, s, `#/group/${gid}`);
  await b.page.locator('table.results-table tbody tr[data-run]').first().waitFor();
  expect(await b.page.locator('table.results-table tbody tr[data-run]').count()).toBe(100);
  expect(await textOf(b.page, '#page-info')).toBe('rows 1–100 of 150');
  await b.page.locator('.pager button', { hasText: 'next' }).click();
  expect(await b.page.locator('table.results-table tbody tr[data-run]').count()).toBe(50);
  expect(await textOf(b.page, '#page-info')).toBe('rows 101–150 of 150');
  // sorting by the param, descending, starts from the largest on the first page
  await b.page.locator('th[data-key="p:i"]').click();
  await b.page.locator('th[data-key="p:i"]').click();
  const firstI = async () => (await b.page.locator('table.results-table tbody tr td:nth-child(3)').first().textContent())?.trim();
  expect(await textOf(b.page, '#page-info')).toBe('rows 101–150 of 150'); // the page stays
  expect(await firstI()).toBe('49');
  await b.page.locator('.pager button', { hasText: 'prev' }).click();
  expect(await firstI()).toBe('149');
  expect(await b.page.locator('table.results-table tbody tr').count()).toBe(100); // the DOM holds one page
  expect(await nullTexts(b.page)).toEqual([]);
  await b.shot('results-paged');
  expect(b.errors).toEqual([]);
}, 60_000);
