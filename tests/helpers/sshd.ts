// A real OpenSSH server on 127.0.0.1 for the ssh executor plugin's tests and bench: Debian's
// openssh-server (tests/run.sh installs it when missing), started on a free port as the current user
// with a throwaway host key and a throwaway client key in a temp dir; no system config, no root login
// to set up (keys only), no daemon left behind (stop()).
import { chmodSync, existsSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { tempDir } from './server.ts';

export const SSHD = process.env.DROVER_TEST_SSHD ?? '/usr/sbin/sshd';

export interface Sshd {
  port: number;
  /** the client key to log in with */
  key: string;
  /** ssh arguments that trust this throwaway server and use the throwaway key */
  sshOptions: string[];
  /** `--plugin-opt` values for examples/plugins/ssh.ts */
  pluginOpts(slots?: number): string[];
  stop(): Promise<void>;
}

function freePort(): number {
  const s = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export async function startSshd(): Promise<Sshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: install openssh-server (tests/run.sh does when it runs as root)`);
  const dir = tempDir('drover-sshd-');
  chmodSync(dir, 0o700);
  const hostKey = join(dir, 'host_ed25519'), key = join(dir, 'client_ed25519');
  for (const k of [hostKey, key]) {
    const r = Bun.spawnSync(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', k]);
    if (r.exitCode !== 0) throw new Error(`ssh-keygen: ${r.stderr.toString()}`);
  }
  const auth = join(dir, 'authorized_keys');
  writeFileSync(auth, readFileSync(`${key}.pub`), { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir sshd insists on (when root)
  let lastErr = '';
  for (let tries = 0; tries < 5; tries++) {
    const port = freePort();
    const config = join(dir, 'sshd_config');
    writeFileSync(config, [
      `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `AuthorizedKeysFile ${auth}`, `PidFile ${join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes', 'UsePAM no', 'StrictModes no',
      'PermitRootLogin prohibit-password', 'MaxSessions 100', 'MaxStartups 100:30:200', (process.env.DROVER_SSHD_DEBUG ? 'LogLevel DEBUG1' : 'LogLevel ERROR'), '',
    ].join('\n'));
    const proc: Subprocess = Bun.spawn([SSHD, '-D', '-e', '-f', config], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
    const sshOptions = ['-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR'];
    const end = Date.now() + 10_000;
    while (Date.now() < end && proc.exitCode === null) {
      const r = Bun.spawnSync(['ssh', ...sshOptions, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=3', '-p', String(port), '127.0.0.1', 'echo ok']);
      if (r.stdout.toString().trim() === 'ok') {
        return {
          port, key, sshOptions,
          pluginOpts: (slots = 4) => [`ssh.hosts=${JSON.stringify([{ host: '127.0.0.1', port, slots }])}`, `ssh.ssh_options=${JSON.stringify(sshOptions)}`],
          async stop() { proc.kill('SIGTERM'); await proc.exited; },
        };
      }
      lastErr = r.stderr.toString().trim();
      await Bun.sleep(100);
    }
    proc.kill('SIGKILL');
    await proc.exited;
    lastErr = `${lastErr} ${(await new Response(proc.stderr as ReadableStream).text()).trim().split('\n').slice(-8).join(' | ')}`.trim();
  }
  throw new Error(`sshd did not start: ${lastErr}`);
}
