// The environment a job starts from: that of the process starting it (the server, or an agent) minus
// drover's own credentials. A token in the server's environment (DROVER_TOKEN, e.g. an admin's shell
// that started `drover serve`) or an agent's would otherwise be one `echo` away from any job — and
// from any `user` token that can submit one and read its log.
const CREDENTIALS = /^DROVER_TOKEN/;

export function jobEnv(base: Record<string, string | undefined> = process.env, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined && !CREDENTIALS.test(k)) env[k] = v;
  return Object.assign(env, extra);
}
