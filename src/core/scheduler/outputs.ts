// Stage outputs: the union of a stage's job outputs; fan-in of several needed stages' outputs
// into one set of inputs under the stage's merge policy (fail | first | last | list).
export type MergePolicy = 'fail' | 'first' | 'last' | 'list';

export function unionOutputs(jobOutputs: (Record<string, string> | null)[]): Record<string, string> {
  return Object.assign({}, ...jobOutputs.filter(Boolean));
}

export type MergeResult = { ok: true; inputs: Record<string, unknown> } | { ok: false; key: string; stages: string[]; values: unknown[] };

export function mergeInputs(needs: { stage: string; outputs: Record<string, string> }[], policy: MergePolicy): MergeResult {
  const seen = new Map<string, { stage: string; value: string }[]>();
  for (const n of needs) {
    for (const [k, v] of Object.entries(n.outputs)) {
      const list = seen.get(k) ?? [];
      list.push({ stage: n.stage, value: v });
      seen.set(k, list);
    }
  }
  const inputs: Record<string, unknown> = {};
  for (const [k, list] of seen) {
    const distinct = new Set(list.map((x) => x.value));
    if (policy === 'fail' && distinct.size > 1) return { ok: false, key: k, stages: list.map((x) => x.stage), values: list.map((x) => x.value) };
    if (policy === 'list') inputs[k] = list.map((x) => x.value);
    else if (policy === 'last') inputs[k] = list[list.length - 1]!.value;
    else inputs[k] = list[0]!.value;
  }
  return { ok: true, inputs };
}
