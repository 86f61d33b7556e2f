/**
 * Where a CLI command writes. Commands take a CliIO instead of touching process.stdout so
 * unit tests can run them through commander's exitOverride and read what they printed.
 */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Reads all of standard input (for `-` arguments). */
  readStdin(): Promise<string>;
  /** The caller's environment (PATH lookup, -E VAR, prefix_src_env). */
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function processIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    env: process.env,
    cwd: process.cwd(),
  };
}
