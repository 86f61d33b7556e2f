/**
 * The warm server's pure parts: where the socket is (as native/warm_client.cc computes it) and
 * the request body jail_client sends (argv, env, cwd), including malformed ones.
 */
import { describe, expect, it } from 'vitest';
import { parseBody, warmSocketPath } from '../../../src/cli/warm-command';

/** A body as native/warm_client.cc builds it. */
function body(argv: string[], env: string[], cwd: string): Buffer {
  const list = (items: string[]) => {
    const n = Buffer.alloc(4);
    n.writeUInt32LE(items.length);
    return Buffer.concat([n, ...items.map((s) => Buffer.from(s + '\0'))]);
  };
  return Buffer.concat([list(argv), list(env), Buffer.from(cwd + '\0')]);
}

describe('warmSocketPath', () => {
  it('JAIL_WARM_SOCKET, else $XDG_RUNTIME_DIR/jail/warm.sock, else /tmp/jail-<uid>/warm.sock', () => {
    expect(warmSocketPath({ JAIL_WARM_SOCKET: '/x/s', XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/x/s');
    expect(warmSocketPath({ XDG_RUNTIME_DIR: '/run/user/1' })).toBe('/run/user/1/jail/warm.sock');
    expect(warmSocketPath({ XDG_RUNTIME_DIR: 'relative' })).toBe(`/tmp/jail-${process.getuid!()}/warm.sock`);
    expect(warmSocketPath({})).toBe(`/tmp/jail-${process.getuid!()}/warm.sock`);
  });
});

describe('parseBody', () => {
  it('argv, env (the first of a duplicate name wins, as in process.env) and cwd', () => {
    const r = parseBody(body(['-q', '--', 'é', ''], ['A=1', 'B=x=y', 'A=2', 'NOEQ', '=v'], '/home/u'));
    expect(r).toEqual({ argv: ['-q', '--', 'é', ''], env: { A: '1', B: 'x=y' }, cwd: '/home/u' });
  });

  it('an empty argv is a request (the CLI then says what is missing)', () => {
    expect(parseBody(body([], [], '/'))).toEqual({ argv: [], env: {}, cwd: '/' });
  });

  it('truncated, over-long or miscounted bodies are refused', () => {
    const good = body(['a'], ['X=1'], '/');
    for (let cut = 0; cut < good.length; cut++) expect(parseBody(good.subarray(0, cut)), `cut at ${cut}`).toBeNull();
    expect(parseBody(Buffer.concat([good, Buffer.from('x')]))).toBeNull();
    const miscounted = Buffer.from(good);
    miscounted.writeUInt32LE(5, 0);
    expect(parseBody(miscounted)).toBeNull();
  });
});
