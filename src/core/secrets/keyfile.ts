// Key files in the data dir (secrets.key, attestation.key): created once with mode 0600 (O_EXCL, so
// two servers starting at once cannot write different keys), and refused when other users may read
// them — a key that leaked is no key. Not here: what the keys are for (store.ts, provenance/).
import { openSync, writeSync, closeSync, readFileSync, statSync, chmodSync } from 'node:fs';
import { DroverError } from '../errors.ts';

/** The file's text; created with `make()` when missing. Group/other permissions are removed (with a warning). */
export function readOrCreateKey(path: string, make: () => string, warn: (msg: string, data: Record<string, unknown>) => void = () => {}): string {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try { writeSync(fd, make()); } finally { closeSync(fd); }
  } catch (err) {
    if ((err as { code?: string }).code !== 'EEXIST') throw new DroverError('storage_unavailable', `cannot create the key file ${path}: ${String(err)}`, { path });
  }
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) {
    try { chmodSync(path, 0o600); } catch (err) {
      throw new DroverError('forbidden', `the key file ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}) and cannot be fixed: ${String(err)}`, { path });
    }
    warn('a key file was readable by other users; made it 0600 (consider rotating what it protects)', { path, mode: (st.mode & 0o777).toString(8) });
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid() && process.getuid() !== 0) {
    throw new DroverError('forbidden', `the key file ${path} belongs to another user (uid ${st.uid}); refusing to use it`, { path });
  }
  return readFileSync(path, 'utf8').trim();
}
