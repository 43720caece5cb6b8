// `bun bench/ws-ceiling.ts SRC DIR`: the bare-bones ceiling for the throughput part of bench/ws.ts —
// about the least a Bun WebSocket server can do to stream a growing file to one subscriber: no auth,
// no store, no scheduler, no sharing between subscribers. POST /go runs `cat SRC` the way drover's
// runner runs a command (a bash subshell appending to DIR/logs/out.log) and, once it has ended,
// prints its start and end ($EPOCHREALTIME, as the runner stamps them) on stdout. Meanwhile the
// server watches DIR/logs (fs.watch, like drover's tail), reads up to 1 MiB at a time into one buffer
// with room for the frame header in front, and sends binary frames in drover's `encoding: 'binary'`
// format while the socket's queue is under 512 KiB (more on `drain`), then `eof` once cat has exited
// and everything is sent. Prints its URL on stdout first.
import { openSync, readSync, fstatSync, watch, closeSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServerWebSocket } from 'bun';

const [src, dir] = process.argv.slice(2) as [string, string];
mkdirSync(join(dir, 'logs'));
const out = join(dir, 'logs', 'out.log'); // a folder of its own, as drover's logs/
const CHUNK = 1 << 20, SOFT = 512 << 10, ROOM = 128;
closeSync(openSync(out, 'w'));
const fd = openSync(out, 'r');
const buf = Buffer.allocUnsafe(ROOM + CHUNK);
let sub: ServerWebSocket<unknown> | null = null, pos = 0, exited = false, done = false, queued = false;

function pump(): void {
  if (!sub || done) return;
  const size = fstatSync(fd).size;
  while (pos < size && sub.getBufferedAmount() < SOFT) {
    const n = readSync(fd, buf, ROOM, Math.min(CHUNK, size - pos), pos);
    const head = Buffer.from(`{"type":"log","offset":${pos},"bytes":${n}}\n`);
    head.copy(buf, ROOM - head.length);
    sub.send(buf.subarray(ROOM - head.length, ROOM + n));
    pos += n;
  }
  if (exited && pos >= size) { done = true; sub.send('{"type":"eof"}'); }
}

watch(join(dir, 'logs'), () => { if (!queued) { queued = true; setImmediate(() => { queued = false; pump(); }); } });

const server = Bun.serve({
  port: 0,
  fetch(req, srv) {
    if (new URL(req.url).pathname === '/go') {
      const script = 's=${EPOCHREALTIME/,/.}; ( eval \'cat "$1"\' ) >>"$2" 2>&1 </dev/null; echo "{\\"start\\":$s,\\"end\\":${EPOCHREALTIME/,/.}}"';
      const job = Bun.spawn(['bash', '-c', script, 'job', src, out], { stdout: 'pipe' });
      new Response(job.stdout).text().then((times) => { exited = true; pump(); process.stdout.write(times); });
      return new Response('started');
    }
    return srv.upgrade(req) ? undefined : new Response('expected a WebSocket upgrade', { status: 400 });
  },
  websocket: {
    perMessageDeflate: false,
    message(ws) { sub = ws; ws.send('{"type":"subscribed"}'); pump(); },
    drain: () => pump(),
  },
});
console.log(`http://127.0.0.1:${server.port}`);
