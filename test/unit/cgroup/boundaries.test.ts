/**
 * Where cgroup work may happen (src/cgroup/index.ts): src/cgroup/fs.ts is the only TypeScript
 * that changes the cgroup filesystem, and src/sandbox (the planner) reaches nothing that changes
 * the kernel — checked on the source, so a new call site or import fails here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(__dirname, '../../../src');

function sources(dir = SRC): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The modules `file` imports (relative ones, resolved to .ts files; `import type` left out: it vanishes at run time). */
function runtimeImports(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export) (?!type )[^;]*? from '(\.[^']+)';/gms)) {
    const base = path.resolve(path.dirname(file), m[1]);
    out.push(fs.existsSync(`${base}.ts`) ? `${base}.ts` : path.join(base, 'index.ts'));
  }
  return out;
}

function reachable(roots: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...roots];
  while (todo.length > 0) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    todo.push(...runtimeImports(f));
  }
  return seen;
}

const rel = (f: string) => path.relative(SRC, f);

describe('cgroup boundaries', () => {
  it('only src/cgroup/fs.ts calls the addon functions that change the cgroup filesystem', () => {
    const callers = sources()
      .filter((f) => /\.cgroup(Write|Mkdir|Rmdir)\(/.test(fs.readFileSync(f, 'utf8')))
      .map(rel);
    expect(callers).toEqual(['cgroup/fs.ts']);
  });

  it('src/sandbox reaches no module that loads the addon or changes cgroups', () => {
    const sandbox = sources(path.join(SRC, 'sandbox'));
    const reached = [...reachable(sandbox)].map(rel);
    // The planner's part of src/cgroup, and nothing that acts.
    const acting = ['native/addon.ts', 'cgroup/fs.ts', 'cgroup/session.ts', 'cgroup/kill.ts', 'cgroup/sweep.ts', 'cgroup/move.ts', 'cgroup/stats.ts'];
    expect(reached.filter((f) => acting.includes(f) || f.startsWith('supervisor/') && f !== 'supervisor/errno.ts')).toEqual([]);
    expect(reached).toContain('cgroup/plan.ts');
  });
});
