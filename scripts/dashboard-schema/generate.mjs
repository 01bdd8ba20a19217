// Writes one TypeScript file per Grafana dashboard JSON: the dashboard as an object literal typed
// as @grafana/schema's `Dashboard`, so that `tsc --noEmit` checks every field against Grafana's
// published schema, including misspelt or unknown fields (excess property checks apply to object
// literals, not to imported JSON modules, whose types TypeScript infers from the JSON itself).
//
// Usage: node generate.mjs OUT_DIR DASHBOARD.json...
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { basename } from 'node:path';

const [out, ...files] = process.argv.slice(2);
if (!out || files.length === 0) {
  console.error('usage: node generate.mjs OUT_DIR DASHBOARD.json...');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
// The schema's string enums (ThresholdsMode, MappingType, …) are nominal in TypeScript: the JSON's
// "absolute" is not a ThresholdsMode.Absolute. Schema<T> is T with each string enum replaced by the
// union of its values (`${E}`), everything else (optionality, nesting, arrays) unchanged.
writeFileSync(
  `${out}/schema.ts`,
  `import type { Dashboard } from '@grafana/schema';
type Schema<T> = T extends string
  ? \`\${T}\`
  : T extends ReadonlyArray<infer U>
    ? Array<Schema<U>>
    : T extends object
      ? { [K in keyof T]: Schema<T[K]> }
      : T;
export type CheckedDashboard = Schema<Dashboard>;
`,
);
for (const f of files) {
  let json;
  try {
    json = JSON.parse(readFileSync(f, 'utf8'));
  } catch (e) {
    console.error(`${f}: not JSON: ${e.message}`);
    process.exit(1);
  }
  const name = basename(f, '.json').replace(/[^A-Za-z0-9_]/g, '_');
  writeFileSync(
    `${out}/${name}.ts`,
    `// Generated from ${f} by scripts/dashboard-schema/generate.mjs\nimport type { CheckedDashboard } from './schema';\n` +
      `export const dashboard: CheckedDashboard = ${JSON.stringify(json, null, 2)};\n`,
  );
}
