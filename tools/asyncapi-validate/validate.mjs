// Validates the AsyncAPI document, and every file its $refs name, with the official AsyncAPI
// parser (its JSON Schema checks and its default ruleset). Exit status 1 on any error, and on any
// warning with --strict; every diagnostic is printed.
//   node validate.mjs [--strict] [path/to/asyncapi.json]
import { resolve } from 'node:path';
import { DiagnosticSeverity, Parser, fromFile } from '@asyncapi/parser';

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const file = resolve(args.find((arg) => !arg.startsWith('--')) ?? '../../contracts/schemas/asyncapi.json');
const severity = { 0: 'error', 1: 'warning', 2: 'information', 3: 'hint' };

const { document, diagnostics } = await fromFile(new Parser(), file).parse();
for (const d of diagnostics) {
  const where = d.path.length ? d.path.join('.') : '(root)';
  console.log(`${severity[d.severity]} ${d.code} at ${where}: ${d.message}`);
}
const count = (level) => diagnostics.filter((d) => d.severity === level).length;
const errors = count(DiagnosticSeverity.Error);
const warnings = count(DiagnosticSeverity.Warning);
const channels = document ? document.channels().length : 0;
console.log(`asyncapi-validate: ${file}: ${errors} errors, ${warnings} warnings, ${channels} channels`);
process.exit(document && errors === 0 && !(strict && warnings) ? 0 : 1);
