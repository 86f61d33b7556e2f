/**
 * Help text derived from the schema: flag descriptions for `--help` and the field reference
 * printed by `jail config --help-fields`.
 */
import { MESSAGES, type FieldDef, type FlagDef } from './schema';

/** A field's default as help shows it, or undefined when it has none worth showing. */
function formatDefault(f: FieldDef): string | undefined {
  if (f.repeated || f.default === undefined) return undefined;
  if (f.type === 'string') return JSON.stringify(f.default);
  return `${f.default}${f.unit ? ' ' + f.unit : ''}`;
}

/** "-t, --time_limit <sec>" -> "-t/--time_limit". */
function flagName(d: FlagDef): string {
  return d.flags.replace(/ <.*/, '').replace(', ', '/');
}

/** One flag's line in `--help`: what it does, its default, and whether it works yet. */
export function flagDescription(f: FieldDef, d: FlagDef): string {
  let text = d.help ?? f.help;
  const def = formatDefault(f);
  // Only the field's main flag shows it: `--memory` and `--cpus` are other spellings.
  if (d === f.flags[0] && d.apply.kind !== 'set' && def !== undefined && !/\(default/.test(text)) text += ` (default: ${def})`;
  return text;
}

function typeText(f: FieldDef): string {
  const t = f.type === 'enum' ? f.enum!.name : f.type === 'message' ? f.message!().name : f.type;
  return f.repeated ? `repeated ${t}` : t;
}

/** Every field of every message: type, default, flags, help. */
export function renderFieldsHelp(): string {
  const out: string[] = [
    'Fields of nsjail\'s config.proto as jail reads them (sandbox.cfg text proto, or JSON with the camelCase names).',
    'Command-line-only settings and jail\'s own fields are marked.',
  ];
  for (const m of MESSAGES) {
    out.push('', `${m.name}:`);
    for (const f of m.fields) {
      const facts = [typeText(f)];
      const def = formatDefault(f);
      if (def !== undefined) facts.push(`default ${def}`);
      if (f.required) facts.push('required');
      if (f.type === 'enum') facts.push(`values ${f.enum!.values.join(' ')}`);
      const flags = f.flags.filter((d) => !d.hidden).map(flagName);
      if (flags.length) facts.push(`flag ${flags.join(', ')}`);
      if (f.outside) facts.push('command line only');
      if (f.extension) facts.push('jail only, not in nsjail');
      out.push(`  ${f.name}  (${facts.join('; ')})`, `      ${f.help}`);
    }
  }
  return out.join('\n') + '\n';
}
