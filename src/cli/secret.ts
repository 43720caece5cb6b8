// `drover secret set NAME | ls | rm NAME`: the secret store through the API. A value is read from
// stdin only (never an argument: `ps` shows arguments to every user of a login node); one trailing
// newline is dropped, so `echo "$TOKEN" | drover secret set NAME` stores the token itself. No command
// ever prints a value: the server never returns one.
import { CliError } from './args.ts';
import { defineCommand } from './command.ts';
import { table, age } from './format.ts';

const SUBS = 'set NAME (value on stdin) | ls | rm NAME';

interface SecretInfo { name: string; created_at: string; updated_at: string }

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('reading the secret from stdin (end with Ctrl-D; it is not echoed back by drover)\n');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export const secretCommand = defineCommand({
  name: 'secret',
  usage: `secret ${SUBS}`,
  summary: 'Set (value from stdin), list (names and times only) or delete secrets; jobs get them as env vars by listing them in `secrets:`.',
  args: [1, 2],
  flags: {},
  async run({ positionals: [sub, name], flags }, ctx) {
    const client = ctx.client();
    if (sub === 'set' && name) {
      const value = await readStdin();
      if (!value) throw new CliError('drover: secret set: no value on stdin (e.g. printf %s "$TOKEN" | drover secret set NAME)');
      const res = await client.json<SecretInfo>('PUT', `/secrets/${encodeURIComponent(name)}`, { body: { value } });
      if (flags.json) ctx.out.text(JSON.stringify(res));
      else process.stdout.write(`secret ${res.name} set (updated ${res.updated_at})\n`);
    } else if ((sub === 'ls' || sub === 'list') && !name) {
      const res = await client.get<{ items: SecretInfo[] }>('/secrets');
      if (flags.json) ctx.out.text(JSON.stringify(res));
      else if (!res.items.length) process.stdout.write('no secrets\n');
      else process.stdout.write(table(['NAME', 'CREATED', 'UPDATED'], res.items.map((s) => [s.name, age(s.created_at), age(s.updated_at)])) + '\n');
    } else if ((sub === 'rm' || sub === 'delete') && name) {
      ctx.out.action('deleted', name, await client.delete(`/secrets/${encodeURIComponent(name)}`));
    } else {
      throw new CliError(sub === 'set' ? 'drover: usage: drover secret set NAME (the value comes from stdin, never from the command line)' : `drover: usage: drover secret ${SUBS}`);
    }
    return 0;
  },
});
