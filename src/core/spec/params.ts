// The params a submit may set: those the spec declares (params:), the ones its commands use
// (${{ params.X }}), never a matrix axis (a sweep's axis is replaced as a whole, with its values).
// A name that is none of these is most likely a typo: refused with a "did you mean".
import { DroverError } from '../errors.ts';
import { referencedParams } from './interpolate.ts';
import { didYouMean } from './suggest.ts';
import type { PipelineSpec } from './types.ts';

export function knownParams(spec: PipelineSpec): Set<string> {
  const names = new Set(Object.keys(spec.params));
  for (const st of spec.stages) for (const j of st.jobs) for (const c of j.commands) for (const n of referencedParams(c.run)) names.add(n);
  return names;
}

/** Refuses a run override naming no param of the spec, or naming a matrix axis. */
export function checkOverrides(spec: PipelineSpec, overrides: Record<string, unknown>): void {
  const known = knownParams(spec);
  const axes = Object.keys(spec.matrix ?? {});
  for (const name of Object.keys(overrides)) {
    if (axes.includes(name)) {
      throw new DroverError('invalid_request',
        `param '${name}' is a matrix axis (${JSON.stringify(spec.matrix![name])}); a param cannot override it — replace the axis instead (drover submit --matrix ${name}=v1,v2)`,
        { path: `params.${name}`, param: name, axis: true });
    }
    if (!known.has(name)) {
      const all = [...known, ...axes];
      throw new DroverError('invalid_request',
        `unknown param '${name}'${didYouMean(name, all)}: the spec has ${all.length ? all.map((n) => `'${n}'`).join(', ') : 'no params'}`,
        { path: `params.${name}`, param: name });
    }
  }
}
