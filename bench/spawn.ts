// Main-thread cost of starting a process: Bun.spawn on the main thread against the local executor's
// Spawner (two Worker threads), N `sh -c true` at parallelism 2, in the same run. Reports jobs/s, the
// main thread's time per start, and the worst event-loop lag seen by a 1 ms timer.
//   bun bench/spawn.ts [N=1000]
import { Spawner } from '../src/plugins/local/spawner.ts';

const N = Number(process.argv[2] ?? 1000);
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

async function measure(mode: 'main thread' | 'spawner'): Promise<void> {
  const spawner = new Spawner(env);
  let lagMax = 0, last = performance.now();
  const lag = setInterval(() => { const t = performance.now(); lagMax = Math.max(lagMax, t - last - 1); last = t; }, 1);
  let mainMs = 0, started = 0;
  const t0 = performance.now();
  const one = async (): Promise<void> => {
    while (started < N) {
      started++;
      const a = performance.now();
      if (mode === 'main thread') {
        const p = Bun.spawn(['sh', '-c', 'true'], { env, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore', detached: true });
        mainMs += performance.now() - a;
        await p.exited;
      } else {
        const p = spawner.spawn(['sh', '-c', 'true'], '/tmp');
        mainMs += performance.now() - a;
        await (await p).exited;
      }
    }
  };
  await Promise.all([one(), one()]);
  clearInterval(lag);
  const s = (performance.now() - t0) / 1000;
  console.log(`| ${mode} | ${Math.round(N / s)} | ${(mainMs / N).toFixed(3)} | ${lagMax.toFixed(1)} |`);
}

console.log(`${N} × sh -c true at parallelism 2\n\n| how | jobs/s | main-thread ms per start | max loop lag ms |\n|---|---|---|---|`);
for (let round = 0; round < 2; round++) { await measure('main thread'); await measure('spawner'); }
process.exit(0); // (the spawner's Workers hold no reference, but say so)
