import { KeelError } from '../../errors/index.ts';
import { mergeFindings } from '../../security/finding.ts';
import type { Finding } from '../../security/finding.ts';
import { createRedactor } from '../../security/redaction.ts';
import type { RedactionLocation, RedactionOptions, Redactor } from '../../security/redaction.ts';
import { compileRevealPolicy, revealNothing } from '../../security/redaction-policy.ts';
import type { AgentRedactionPolicy, RevealPolicy, ToolRedactionPolicy } from '../../security/redaction-policy.ts';
import { normalizeToolName } from '../../security/tool-name.ts';
import type { CallingAgent } from '../pipeline/tool-invocation.ts';
import type { ToolDefinition } from '../define-tool.ts';
import type { BlobStore } from '../../spec/journal.ts';
import type { ExecuteStage, ExecutionOutcome } from '../pipeline/tool-invocation.ts';
import { jsonTextDepth } from '../../util/index.ts';

/** Scans text the model is about to read; the injection detectors plug in here. A detector reports counts, never text. */
export type OutputDetector = (text: string) => readonly Finding[];

export interface SanitizeStageOptions {
  /** Where the full (redacted) output of a truncated result is kept. */
  readonly blobs: BlobStore;
  /**
   * `false` passes secrets and personal data through; otherwise which types to redact (all by default). A tool's
   * own `redaction.reveal` policy lets the personal data it names through to the model; secrets never pass.
   */
  readonly redaction?: false | RedactionOptions;
  readonly detectors?: readonly OutputDetector[];
  /** Share of control or undecodable characters above which output is taken for binary. Defaults to 0.1. */
  readonly maxControlCharacterRatio?: number;
  /**
   * Output past this many characters is dropped before redaction and scanning, with a marker saying so. Redaction
   * runs on the event loop in linear time (about 1 to 20 MB/s here, by content), so this bounds how long one tool
   * result can hold up every other session. Defaults to 1 MiB of characters; error messages are cut at 64 KiB.
   */
  readonly maxScannedChars?: number;
}

const defaultMaxScannedChars = 1_048_576;
const maxErrorMessageChars = 65_536;

/** What the sanitizer did to one result, carried beside the outcome for the audit stage and the journal. */
export interface SanitizationReport {
  readonly redactions: readonly Finding[];
  /**
   * Where each marker stands in the sanitized output before truncation (the blob, when truncated): kind, offset,
   * and for JSON output the pointer of the string holding it; the first `maxReportedLocations`. Never the value.
   */
  readonly redactionLocations: readonly RedactionLocation[];
  readonly detections: readonly Finding[];
  /** Length of the output after cleaning and redaction, before truncation. */
  readonly outputChars: number;
  readonly truncated: boolean;
}

/** Locations kept per result, so that an output full of addresses does not make a journal event of megabytes; `redactions` keeps the full counts. */
export const maxReportedLocations = 1000;

export type SanitizedOutcome = ExecutionOutcome & { readonly sanitization?: SanitizationReport };

export function sanitizationOf(outcome: ExecutionOutcome): SanitizationReport | undefined {
  return (outcome as SanitizedOutcome).sanitization;
}

// ANSI escape sequences (CSI, OSC, and two-character escapes): colours and cursor moves mean nothing to a
// model, and in a terminal they can hide or rewrite text that a person reviewing the output should see.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ansiEscape = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;
// C0 controls other than tab, newline and carriage return; DEL; C1 controls. Removed for the same reason.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlCharacter = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g;
const loneSurrogate = /[\uD800-\uDFFF]/u;

/**
 * The sanitize stage, run on the tool's result before the model reads it:
 * binary output is refused with `tool-output-rejected`; escape sequences and control characters are
 * removed; secrets and personal data are redacted (error messages too); detectors scan the text; and
 * output longer than the tool's `maxOutputChars` is cut with a marker, the full text kept as a blob.
 * The report rides on the outcome as `sanitization` (read it with `sanitizationOf`); stages outside
 * this one must pass the outcome object through, not rebuild it, to keep it.
 */
export function createSanitizeStage(options: SanitizeStageOptions): ExecuteStage {
  const redactor = options.redaction === false ? null : createRedactor(options.redaction ?? {});
  const detectors = options.detectors ?? [];
  const maxRatio = options.maxControlCharacterRatio ?? 0.1;
  const maxScanned = options.maxScannedChars ?? defaultMaxScannedChars;
  if (!(Number.isInteger(maxScanned) && maxScanned > 0)) {
    throw new KeelError('invalid-config', `maxScannedChars must be a positive integer, got ${String(maxScanned)}.`);
  }
  if (!(maxRatio >= 0 && maxRatio <= 1)) {
    throw new KeelError('invalid-config', `maxControlCharacterRatio must be between 0 and 1, got ${String(maxRatio)}.`);
  }

  function detect(text: string): readonly Finding[] {
    return mergeFindings(
      detectors.flatMap((detector) => {
        try {
          return [...detector(text)];
        } catch {
          // A broken detector must not block every call; its failure is itself reported.
          return [{ type: 'detector-failed', count: 1 }];
        }
      }),
    );
  }

  return async (invocation, next) => {
    const outcome = await next();
    const tool = invocation.tool;
    if (!outcome.ok) {
      // Error messages reveal nothing: the policy is about the data a tool returns, not what it failed on.
      const message = boundedText(outcome.error.message, maxErrorMessageChars);
      const redaction = redactor?.redactText(message) ?? { text: message, findings: [], locations: [] };
      const error = redaction.findings.length === 0 && message === outcome.error.message ? outcome.error : withMessage(outcome.error, redaction.text);
      const report: SanitizationReport = { redactions: redaction.findings, redactionLocations: [], detections: detect(redaction.text), outputChars: 0, truncated: false };
      return { ...outcome, error, sanitization: report } satisfies SanitizedOutcome;
    }

    const problem = binaryProblem(outcome.output, maxRatio);
    if (problem !== undefined) {
      const error = new KeelError(
        'tool-output-rejected',
        `Tool "${tool.name}" returned binary data (${problem}), which is not shown to the model; the tool should return text, such as a summary or base64 of the bytes.`,
        { details: { tool: tool.name, outputChars: outcome.output.length } },
      );
      return { ok: false, error, latencyMs: outcome.latencyMs, sanitization: { redactions: [], redactionLocations: [], detections: [], outputChars: 0, truncated: false } } satisfies SanitizedOutcome;
    }

    const cleaned = boundedText(outcome.output, maxScanned).replace(ansiEscape, '').replace(controlCharacter, '');
    // Redacted once, here, for the model: with the tool's reveal policy, secrets always hidden.
    const redaction = redactor === null ? { text: cleaned, findings: [], locations: [] } : redactOutput(redactor, cleaned, revealPolicyFor(tool, invocation.agent));
    const text = redaction.text;
    // Detectors see the whole text: an injection in the part cut off below is still in the blob the model may fetch later.
    const detections = detect(text);
    const redactionLocations = redaction.locations.slice(0, maxReportedLocations);
    const report = (truncated: boolean): SanitizationReport => ({ redactions: redaction.findings, redactionLocations, detections, outputChars: text.length, truncated });
    if (text.length <= tool.maxOutputChars) return { ...outcome, output: text, sanitization: report(false) } satisfies SanitizedOutcome;

    const blob = await options.blobs.put(text);
    const shown = cutWithinLimit(text, tool.maxOutputChars);
    const marker = `[output truncated: ${text.length} characters in total, ${shown.length} shown; full output kept as blob ${blob}]`;
    return { ...outcome, output: `${shown}\n${marker}`, fullOutputBlob: blob, sanitization: report(true) } satisfies SanitizedOutcome;
  };
}

/** The text, or its first `limit` characters (never half a surrogate pair) and a marker naming what was dropped. */
function boundedText(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const kept = cutWithinLimit(text, limit);
  return `${kept}\n[output cut at ${kept.length} characters before redaction: ${text.length - kept.length} more characters of the tool's output were dropped, and are kept nowhere; have the tool return less, or raise maxScannedChars]`;
}

/** Why the text is not text, or undefined when it is. */
function binaryProblem(text: string, maxRatio: number): string | undefined {
  const nul = text.indexOf('\u0000');
  if (nul !== -1) return `a NUL character at position ${nul}`;
  if (loneSurrogate.test(text)) return 'characters that are not valid Unicode, as bytes that are not UTF-8 decode to';
  if (text.length === 0) return undefined;
  const withoutEscapes = text.replace(ansiEscape, '');
  const suspicious = (withoutEscapes.match(controlCharacter)?.length ?? 0) + (withoutEscapes.match(/\uFFFD/g)?.length ?? 0);
  const ratio = suspicious / Math.max(1, withoutEscapes.length);
  if (ratio > maxRatio) return `${Math.round(ratio * 100)}% control or undecodable characters`;
  return undefined;
}

/** The first `limit` characters, one fewer when the cut would split a surrogate pair. */
function cutWithinLimit(text: string, limit: number): string {
  const code = text.charCodeAt(limit - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit);
}

function withMessage(error: KeelError, message: string): KeelError {
  return new KeelError(error.code, message, {
    cause: error.cause,
    retryable: error.retryable,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    details: error.details,
  });
}

const compiledPolicies = new WeakMap<ToolRedactionPolicy, RevealPolicy>();
const compiledAgentPolicies = new WeakMap<AgentRedactionPolicy, Map<ToolDefinition, RevealPolicy>>();

function revealPolicyOf(tool: ToolDefinition): RevealPolicy {
  const policy = tool.redaction;
  if (policy === undefined) return revealNothing;
  let compiled = compiledPolicies.get(policy);
  if (compiled === undefined) {
    compiled = compileRevealPolicy(policy, `Tool "${tool.name}"`);
    compiledPolicies.set(policy, compiled);
  }
  return compiled;
}

/** The tool's own reveal rules plus the agent's for this tool (by normalized name) and for every tool (`'*'`). */
function revealPolicyFor(tool: ToolDefinition, agent: CallingAgent): RevealPolicy {
  const agentPolicy = agent?.redaction;
  if (agentPolicy === undefined || agentPolicy === null) return revealPolicyOf(tool);
  const byTool = compiledAgentPolicies.get(agentPolicy) ?? new Map<ToolDefinition, RevealPolicy>();
  compiledAgentPolicies.set(agentPolicy, byTool);
  const cached = byTool.get(tool);
  if (cached !== undefined) return cached;
  const name = normalizeToolName(tool.name);
  const agentRules = Object.entries(agentPolicy.reveal).flatMap(([key, rules]) => (key === '*' || normalizeToolName(key) === name ? rules : []));
  const reveal = [...(tool.redaction?.reveal ?? []), ...agentRules];
  const compiled = reveal.length === 0 ? revealNothing : compileRevealPolicy({ reveal }, `Agent "${agent.name}", tool "${tool.name}"`);
  byTool.set(tool, compiled);
  return compiled;
}

interface OutputRedaction {
  readonly text: string;
  readonly findings: readonly Finding[];
  readonly locations: readonly RedactionLocation[];
}

/**
 * JSON output is redacted value by value, so that a reveal policy can name fields and locations can name the
 * string they are in (the redactor decodes escapes in plain text too). Other text is redacted as it is.
 */
function redactOutput(redactor: Redactor, text: string, reveal: RevealPolicy): OutputRedaction {
  const first = text.trimStart()[0];
  if (first === '{' || first === '[' || first === '"') {
    let parsed: unknown;
    let isJson = true;
    try {
      parsed = JSON.parse(text);
    } catch {
      isJson = false;
    }
    // Redacting value by value recurses; output nested deeper than any real tool's is redacted as text instead.
    if (isJson && jsonTextDepth(text) <= 64) {
      const redacted = redactor.redactValue(parsed, { reveal });
      // Unchanged output keeps its own formatting; only output that held something to redact is re-serialised.
      return redacted.findings.length === 0 ? { text, findings: [], locations: [] } : { text: JSON.stringify(redacted.value), findings: redacted.findings, locations: redacted.locations };
    }
  }
  return redactor.redactText(text, { reveal });
}
