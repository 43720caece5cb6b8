// The submit-time check of a spec's `secrets:`: every name must be set in the secret store (400
// naming the missing ones), and none may also be an `env:` key (the job would get one or the other).
import { DroverError } from '../errors.ts';
import type { PipelineSpec } from '../spec/types.ts';
import type { SecretsView } from './types.ts';

export function checkSpecSecrets(spec: PipelineSpec, secrets: SecretsView | undefined): void {
  if (!spec.secrets.length) return;
  const missing = secrets ? secrets.missing(spec.secrets) : [...spec.secrets];
  if (missing.length) {
    throw new DroverError('invalid_spec', `secrets: ${missing.map((n) => `'${n}'`).join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set on the server (set it with: drover secret set ${missing[0]})`, { path: 'secrets', missing });
  }
  const envKeys = new Set([...Object.keys(spec.env), ...spec.stages.flatMap((s) => s.jobs.flatMap((j) => Object.keys(j.env)))]);
  const clash = spec.secrets.find((n) => envKeys.has(n) || n.startsWith('DROVER_'));
  if (clash) throw new DroverError('invalid_spec', `secrets: '${clash}' is also an env key or a DROVER_ variable; a job would get only one of them`, { path: 'secrets', name: clash });
}
