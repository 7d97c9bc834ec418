#!/usr/bin/env node
import { packageVersion } from './package-version.ts';

// A reader that stops early (`keel trace … | head`) closes the pipe; that ends the output, it is not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V')) {
  // Answered before the commands are loaded: asking for the version costs no more than starting Node.
  process.stdout.write(`${packageVersion()}\n`);
} else {
  // The commands (and through them the runtime) are imported only when there is a command line to parse.
  const { main } = await import('./main.ts');
  process.exitCode = await main(argv);
}
