// `drover pipelines [NAME]`: the registered pipelines, or one of them with its triggers — the cron
// schedule's next fire times and last fire, the topic it listens to (events by status), its webhook —
// and what its runs cost, in all and per trigger kind.
import { defineCommand } from './command.ts';
import { costLine } from './output/human.ts';
import { dim, table, time, age, kv } from './format.ts';
import type { Cost, Page } from './types.ts';

interface PipelineItem { name: string; version: number; updated_at: string }
interface PipelineShown {
  name: string; version: number; created_at: string;
  schedule?: { cron: string; timezone: string; overlap: string; catch_up: string; next: string[]; last_fire: string | null; skipped: number; last_error: string | null } | null;
  on?: { topic: string; max_concurrent?: number; max_runs_per_hour?: number; events: Record<string, number> } | null;
  webhook?: { secret: string; path: string } | null;
  cost?: { total: Cost; by_trigger: Record<string, Cost> };
}

export function renderPipeline(p: PipelineShown): string {
  let s = `pipeline ${p.name}  version ${p.version}  ${dim(`registered ${time(p.created_at)}`)}\n`;
  const sc = p.schedule;
  if (sc) {
    s += `  schedule  ${sc.cron} (${sc.timezone})  overlap ${sc.overlap}  catch_up ${sc.catch_up}\n`;
    s += `  next      ${sc.next.map(time).join(', ') || '-'}\n`;
    s += `  last fire ${sc.last_fire ? `${time(sc.last_fire)} ${dim(`(${age(sc.last_fire)})`)}` : '-'}${sc.skipped ? `  skipped ${sc.skipped}` : ''}\n`;
    if (sc.last_error) s += `  error     ${sc.last_error}\n`;
  }
  if (p.on) {
    const { topic, events, ...budget } = p.on;
    s += `  on        topic ${topic}${Object.keys(budget).length ? `  ${kv(budget)}` : ''}  events: ${kv(events) || 'none yet'}\n`;
  }
  if (p.webhook) s += `  webhook   POST ${p.webhook.path}  ${dim(`(secret ${p.webhook.secret})`)}\n`;
  if (p.cost) {
    s += `  cost      ${costLine(p.cost.total)}\n`;
    for (const [kind, c] of Object.entries(p.cost.by_trigger)) s += `    ${kind.padEnd(9)} ${costLine(c)}\n`;
  }
  return s;
}

export const pipelinesCommand = defineCommand({
  name: 'pipelines',
  usage: 'pipelines [NAME] [--json]',
  summary: 'List registered pipelines, or show one with its schedule (next fire times), topic, webhook and cost.',
  args: [0, 1],
  flags: {},
  async run({ positionals: [name] }, ctx) {
    const client = ctx.client();
    if (name) {
      const p = await client.get<PipelineShown>(`/pipelines/${encodeURIComponent(name)}`);
      ctx.out.text(ctx.json ? JSON.stringify(p) : renderPipeline(p));
      return 0;
    }
    const page = await client.get<Page<PipelineItem>>('/pipelines');
    if (ctx.json) ctx.out.text(JSON.stringify(page));
    else if (!page.items.length) process.stderr.write('no pipelines\n');
    else ctx.out.text(table(['NAME', 'VERSION', 'UPDATED'], page.items.map((p) => [p.name, String(p.version), age(p.updated_at)])));
    return 0;
  },
});
