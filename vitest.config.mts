import { defineConfig } from 'vitest/config';

// Three projects (docs/architecture.md §6): `unit` is pure TypeScript, `native` needs the built addon but
// not root, `integration` runs real jails and needs root (a skip there fails CI, see
// test/helpers/env.ts). Integration files run one at a time: they share the machine's cgroups
// and count processes, fds and mounts before and after.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'native',
          include: ['test/native/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
