// Loaded with `node --import` into every process bench/startup.ts starts (the `node -e 0` floor too, so that each
// pays for it alike): at exit, writes the process's peak resident set size to stderr for the benchmark to read.
import { writeSync } from 'node:fs';

process.on('exit', () => {
  writeSync(2, `\nSTARTUP_PROBE ${JSON.stringify({ maxRssKB: process.resourceUsage().maxRSS })}\n`);
});
