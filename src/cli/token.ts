// `drover token create|ls|rm`: admin management of API tokens. A new token is printed
// once, alone on stdout (so `drover token create --role agent > agent.token` works).
import { CliError } from './args.ts';
import { defineCommand } from './command.ts';
import type { Page, Token } from './types.ts';

const SUBS = 'create --role R [--name N] | ls | rm ID';

export const tokenCommand = defineCommand({
  name: 'token',
  usage: `token ${SUBS}`,
  summary: 'Create (shown once), list or delete API tokens (admin).',
  args: [1, 2],
  flags: {
    role: { type: 'string', value: 'R', help: 'role of the new token (admin, agent, …)' },
    name: { type: 'string', value: 'N', help: 'a name to recognise it by' },
  },
  async run({ flags, positionals: [sub, id] }, ctx) {
    const client = ctx.client();
    if (sub === 'create') {
      if (!flags.role) throw new CliError('drover: token create needs --role R');
      if (id) throw new CliError(`drover: usage: drover token ${SUBS}`);
      ctx.out.tokenCreated(await client.post<Token>('/tokens', { role: flags.role, name: flags.name }));
    } else if (sub === 'ls' || sub === 'list') {
      ctx.out.tokens(await client.get<Page<Token> | Token[]>('/tokens'));
    } else if ((sub === 'rm' || sub === 'delete') && id) {
      ctx.out.action('deleted', id, await client.delete(`/tokens/${encodeURIComponent(id)}`));
    } else {
      throw new CliError(`drover: usage: drover token ${SUBS}`);
    }
    return 0;
  },
});
