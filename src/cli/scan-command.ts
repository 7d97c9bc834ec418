import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { KeelError } from '../errors/index.ts';
import { createInjectionDetector } from '../security/injection/index.ts';
import type { InjectionDetector, InjectionFinding } from '../security/injection/index.ts';
import type { Print } from './cli-context.ts';
import { readBlocks, readLines } from './scan-lines.ts';

/**
 * `keel scan`: the injection detectors over a file or standard input. With --jsonl every input line is one item
 * and gets exactly one output line, in order, whatever it holds; otherwise the whole input is one text, read and
 * scanned in blocks so its size does not matter. Findings never change the exit code: this is a measuring tool.
 */
export interface ScanCommandOptions {
  /** A path, `-` or undefined for standard input. */
  readonly file: string | undefined;
  readonly jsonl: boolean;
  readonly json: boolean;
  readonly cwd: string;
  readonly stdin: AsyncIterable<Buffer | string>;
  readonly out: Print;
}

/** A JSON line longer than this is answered with an error line instead of being held in memory. */
export const maxJsonLineBytes = 32 * 1024 * 1024;
/** Characters scanned at a time in whole-text mode. */
const blockChars = 1 << 20;
/** Findings printed for one whole text; a file full of attacks still gets a bounded report. */
const maxReportedFindings = 10_000;

async function openInput(options: ScanCommandOptions): Promise<AsyncIterable<Buffer | string>> {
  if (options.file === undefined || options.file === '-') return options.stdin;
  const path = resolve(options.cwd, options.file);
  const info = await stat(path).catch((error: unknown) => {
    throw new KeelError('invalid-argument', `Cannot read ${path}: ${error instanceof Error ? error.message : String(error)}.`, { cause: error });
  });
  if (info.isDirectory()) throw new KeelError('invalid-argument', `${path} is a directory; keel scan reads a file, or standard input with - .`);
  return createReadStream(path);
}

export async function runScanCommand(options: ScanCommandOptions): Promise<number> {
  const input = await openInput(options);
  const detector = createInjectionDetector();
  if (options.jsonl) await scanJsonLines(input, detector, options.out);
  else await scanWholeText(input, detector, options);
  return 0;
}

/** The id of a line that is not valid JSON, when one can still be read from it. */
const idInBrokenLine = /"id"\s*:\s*("(?:[^"\\\n]|\\.){0,1024}")/;

function idOf(line: string, parsed: unknown): string | undefined {
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
    const id = (parsed as { id?: unknown }).id;
    if (typeof id === 'string') return id;
    if (typeof id === 'number' && Number.isFinite(id)) return String(id);
    return undefined;
  }
  const match = idInBrokenLine.exec(line.slice(0, 4096));
  if (match === null) return undefined;
  try {
    return JSON.parse(match[1]!) as string;
  } catch {
    return undefined;
  }
}

function errorLine(id: string | undefined, error: string): string {
  return JSON.stringify(id === undefined ? { error } : { id, error });
}

/** One output line for one input line; never throws. */
export function scanJsonLine(line: string, detector: InjectionDetector): string {
  if (line.trim() === '') return errorLine(undefined, 'empty line: expected {"id": string, "text": string, "source"?: string}');
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (error) {
    return errorLine(idOf(line, undefined), `not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  const id = idOf(line, parsed);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return errorLine(undefined, 'expected a JSON object {"id": string, "text": string, "source"?: string}');
  const { id: rawId, text, source } = parsed as { id?: unknown; text?: unknown; source?: unknown };
  if (typeof rawId !== 'string') return errorLine(id, '"id" must be a string');
  if (typeof text !== 'string') return errorLine(id, '"text" must be a string');
  if (source !== undefined && typeof source !== 'string') return errorLine(id, '"source" must be a string when given');
  const scan = detector.scan(text, source === undefined ? {} : { source });
  return JSON.stringify({ id: rawId, injection: scan.injection, score: scan.score, findings: scan.findings.map(outputFinding) });
}

function outputFinding(finding: InjectionFinding): { layer: string; rule: string; start: number; end: number } {
  return { layer: finding.layer, rule: finding.rule, start: finding.start, end: finding.end };
}

async function scanJsonLines(input: AsyncIterable<Buffer | string>, detector: InjectionDetector, out: Print): Promise<void> {
  for await (const line of readLines(input, maxJsonLineBytes)) {
    out(line.overflow ? errorLine(undefined, `line longer than ${maxJsonLineBytes} bytes; not scanned`) : scanJsonLine(line.text, detector));
  }
}

interface ReportedFinding extends InjectionFinding {
  readonly excerpt: string;
}

async function scanWholeText(input: AsyncIterable<Buffer | string>, detector: InjectionDetector, options: ScanCommandOptions): Promise<void> {
  let injection = false;
  let score = 0;
  let characters = 0;
  let omitted = 0;
  const findings: ReportedFinding[] = [];
  for await (const block of readBlocks(input, blockChars)) {
    const scan = detector.scan(block.text);
    injection ||= scan.injection;
    score = Math.max(score, scan.score);
    characters = block.offset + block.text.length;
    for (const finding of scan.findings) {
      if (findings.length >= maxReportedFindings) omitted += 1;
      else findings.push({ ...finding, start: finding.start + block.offset, end: finding.end + block.offset, excerpt: excerptOf(block.text, finding) });
    }
  }
  if (options.json) {
    options.out(JSON.stringify({ injection, score, findings: findings.map(({ excerpt: _excerpt, ...finding }) => finding), characters, ...(omitted > 0 ? { findingsOmitted: omitted } : {}) }));
    return;
  }
  options.out(`${injection ? 'injection' : 'no injection'} (score ${score.toFixed(3)}, ${characters} characters scanned)`);
  for (const finding of findings) options.out(`  ${finding.layer.padEnd(10)} ${finding.rule.padEnd(36)} ${finding.start}-${finding.end}  ${finding.score.toFixed(2)}  ${JSON.stringify(finding.excerpt)}`);
  if (omitted > 0) options.out(`  … ${omitted} more findings not listed`);
}

/** The finding's text, shortened to 80 characters, for a person to see what matched. */
function excerptOf(text: string, finding: InjectionFinding): string {
  const matched = text.slice(finding.start, finding.end);
  return matched.length <= 80 ? matched : `${matched.slice(0, 77)}…`;
}
