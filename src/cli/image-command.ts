/**
 * `jail image build|import|ls|rm`: a thin adapter over the image store (src/box/images.ts).
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT stop a build or import; nothing is stored, and it exits 128+n.
 */
import type { Command } from 'commander';
import { buildImage, importImage, listImages, removeImage, type ImageInfo, type ImageSource } from '../box/images';
import type { DebianVariant } from '../box/debian';
import type { CliIO } from './io';

function describeSource(s: ImageSource): string {
  if (s.kind === 'debian') return `debian ${s.suite} ${s.variant}${s.packages.length ? ` +${s.packages.join(',')}` : ''}`;
  return `${s.kind} ${s.path}`;
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

function formatImages(images: ImageInfo[]): string {
  const rows = [['NAME', 'SIZE', 'CREATED', 'SOURCE'], ...images.map((i) => [i.name, mib(i.sizeBytes), i.created.replace(/\.\d+Z$/, 'Z'), describeSource(i.source)])];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n') + '\n';
}

/** Runs a store operation that a fatal signal aborts; the exit code says which signal. */
async function interruptible(io: CliIO, setExit: (code: number) => void, what: (signal: AbortSignal) => Promise<ImageInfo>): Promise<void> {
  const abort = new AbortController();
  let caught = 0;
  const off = io.onFatalSignals((n) => {
    caught = n;
    abort.abort();
  });
  try {
    const info = await what(abort.signal);
    io.stderr(`image '${info.name}': ${mib(info.sizeBytes)}, ${describeSource(info.source)}\n`);
  } catch (e) {
    if (caught === 0) throw e;
    io.stderr('jail image: interrupted; nothing was stored\n');
    setExit(128 + caught);
  } finally {
    off();
  }
}

export function registerImageCommand(program: Command, io: CliIO, setExit: (code: number) => void): Command {
  const image = program.command('image').description('root filesystem images for boxes: build from Debian packages, import OCI or docker archives, list, remove');
  const log = (line: string) => io.stderr(line + '\n');

  image
    .command('build <name>')
    .description('build an image from Debian packages with mmdebstrap')
    .requiredOption('--debian <suite>', 'the Debian suite or codename, e.g. bookworm')
    .option('--packages <list>', 'packages to add, comma-separated (e.g. python3,git,curl)')
    .option('--variant <variant>', 'mmdebstrap variant: essential, apt, minbase, buildd, important, standard', 'minbase')
    .option('--mirror <url>', 'Debian archive to fetch from (default http://deb.debian.org/debian)')
    .option('--force', 'replace an image of the same name')
    .action((name: string, opts: { debian: string; packages?: string; variant: string; mirror?: string; force?: boolean }) =>
      interruptible(io, setExit, (signal) =>
        buildImage(name, {
          suite: opts.debian,
          packages: opts.packages?.split(',').filter((p) => p !== ''),
          variant: opts.variant as DebianVariant,
          mirror: opts.mirror,
          force: opts.force,
          log,
          signal,
        }),
      ),
    );

  image
    .command('import <name> <path>')
    .description('import an OCI image layout (directory or oci-archive tar), a docker save tar, or a directory tree')
    .option('--platform <os/arch>', "the platform to take from a multi-platform image (default this host's)")
    .option('--force', 'replace an image of the same name')
    .action((name: string, source: string, opts: { platform?: string; force?: boolean }) =>
      interruptible(io, setExit, (signal) => importImage(name, source, { platform: opts.platform, force: opts.force, log, signal })),
    );

  image
    .command('ls')
    .description('list the images')
    .option('--json', 'print them as a JSON array (image.json of each)')
    .action((opts: { json?: boolean }) => {
      const images = listImages();
      io.stdout(opts.json ? JSON.stringify(images, null, 2) + '\n' : formatImages(images));
    });

  image
    .command('rm <name>')
    .description('remove an image')
    .action((name: string) => removeImage(name));

  return image;
}
