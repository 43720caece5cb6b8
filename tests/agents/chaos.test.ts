// The crash soak at a small scale: 3 kill -9 cycles of the server and one killed agent while a run of
// local and agent jobs goes on. Nothing lost, nothing completed twice, everything terminal.
import { test, expect } from 'bun:test';
import { chaos } from '../helpers/chaos.ts';

test('kill -9 of the server (3 cycles) and of an agent lose no job and complete none twice', async () => {
  const r = await chaos({ jobs: 30, cycles: 3, agentKills: 1 });
  expect(r.notTerminal).toBe(0);
  expect(r.lost).toBe(0);
  expect(r.appliedTwice).toBe(0);
  expect(r.failed).toBe(0);
  expect(r.jobs).toBe(30);
}, 240_000);
