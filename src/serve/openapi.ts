/**
 * The OpenAPI description served at `GET /v1/openapi.json`. docs/serve.md shows the same
 * document; a unit test keeps the two equal.
 */
const error = { type: 'object', required: ['error'], properties: { error: { type: 'string', description: 'what failed, the value, what is accepted, how to fix it' } } };
const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'jail serve',
    version: '1',
    description: 'Runs programs in jails, one per request. A request can only narrow the server\'s jail: its config may lower limits and set allowed environment variables, nothing else.',
  },
  paths: {
    '/v1/run': {
      post: {
        summary: 'Run a command, or code in a language, in a fresh jail and return its report and output',
        requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/RunRequest' } } } },
        responses: {
          '200': { description: 'The run ended (whatever its outcome: see report.outcome)', content: { 'application/json': { schema: { $ref: '#/components/schemas/RunResponse' } } } },
          '400': errorResponse('The request is malformed, has unknown fields, or asks for more than the server allows'),
          '401': errorResponse('The server has a token and the request did not send it as "Authorization: Bearer <token>"'),
          '413': errorResponse('The body is larger than the server takes (default 1 MiB)'),
          '429': errorResponse('Every run slot is busy and the queue is full; retry after the Retry-After header\'s seconds'),
          '503': errorResponse('The server is shutting down'),
        },
      },
    },
    '/v1/health': {
      get: {
        summary: 'Whether the server takes runs, how busy it is, and the languages it has',
        responses: { '200': { description: 'Status', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } } },
      },
    },
    '/v1/openapi.json': { get: { summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1 document' } } } },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Required when the server was started with a token (always on a non-loopback address)' } },
    schemas: {
      RunRequest: {
        type: 'object',
        additionalProperties: false,
        description: 'Either command, or code + language.',
        properties: {
          command: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'argv; the program is looked up on the server\'s PATH' },
          code: { type: 'string', description: 'Source code, written to a file in the run\'s directory and run by the language\'s interpreter' },
          language: { type: 'string', description: 'One of GET /v1/health\'s languages (python, sh, node where installed)' },
          stdin: { type: 'string', description: 'Written to the program\'s standard input, which is then closed (default: empty)' },
          files: {
            type: 'object',
            additionalProperties: { type: 'string' },
            description: 'relative path -> content, written read-only into the run\'s directory, the program\'s working directory. Paths are relative, without "..", "." or empty segments, without NUL; at most 64 files by default',
          },
          config: { $ref: '#/components/schemas/Overrides' },
          timeLimit: { type: 'integer', minimum: 1, description: 'Seconds; the same as config.time_limit' },
          maxOutputBytes: { type: 'integer', minimum: 0, description: 'Cap per captured stream, at most the server\'s (default 1 MiB)' },
        },
      },
      Overrides: {
        type: 'object',
        additionalProperties: false,
        description: 'Config fields (snake_case or camelCase, in sandbox.cfg units) a request may narrow. Each must be at most the server\'s value; any other field is refused with 400.',
        properties: {
          time_limit: { type: 'integer', description: 'seconds' },
          rlimit_as: { type: 'integer', description: 'MiB' },
          rlimit_core: { type: 'integer', description: 'MiB' },
          rlimit_cpu: { type: 'integer', description: 'seconds' },
          rlimit_fsize: { type: 'integer', description: 'MiB' },
          rlimit_nofile: { type: 'integer' },
          rlimit_nproc: { type: 'integer' },
          rlimit_stack: { type: 'integer', description: 'MiB' },
          cgroup_mem_max: { type: 'integer', description: 'bytes' },
          cgroup_pids_max: { type: 'integer' },
          cgroup_cpu_ms_per_sec: { type: 'integer' },
          envar: { type: 'array', items: { type: 'string' }, description: 'NAME=value, NAME among the server\'s --env-allow names' },
        },
      },
      RunResponse: {
        type: 'object',
        required: ['report', 'stdout', 'stderr', 'truncated'],
        properties: {
          report: { type: 'object', description: 'The exit report, as `jail --report json` prints it: outcome (exited, signaled, timeout, oom, seccomp-violation, setup-failed), exitCode, signal, wallMs, cgroup usage, ...' },
          stdout: { type: 'string', description: 'Standard output as UTF-8' },
          stderr: { type: 'string' },
          truncated: { type: 'boolean', description: 'stdout or stderr went past maxOutputBytes and the rest was dropped' },
        },
      },
      Health: {
        type: 'object',
        properties: {
          status: { type: 'string', enum: ['ok', 'closing'] },
          active: { type: 'integer' },
          queued: { type: 'integer' },
          maxConcurrent: { type: 'integer' },
          queue: { type: 'integer' },
          languages: { type: 'array', items: { type: 'string' } },
        },
      },
      Error: error,
    },
  },
  security: [{}, { bearer: [] }],
};
