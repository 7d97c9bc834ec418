import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { KeelError } from '../errors/index.ts';

/**
 * A script is a JSON array of Anthropic-format assistant messages, played in order. Only the fields Keel
 * reads are declared; `stop_reason`, `usage`, `model` and ids are optional and filled in when absent.
 */
const scriptedBlockSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string() }),
  z.object({
    type: z.literal('tool_use'),
    id: z.string().min(1).optional(),
    name: z.string().min(1),
    input: z.record(z.string(), z.unknown()).default({}),
  }),
  z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string().optional() }),
]);

export const scriptedStopReasons = [
  'end_turn',
  'tool_use',
  'max_tokens',
  'stop_sequence',
  'pause_turn',
  'refusal',
  'model_context_window_exceeded',
  'content_filter',
  'context_window_exceeded',
] as const;

const scriptedResponseSchema = z.object({
  role: z.literal('assistant').default('assistant'),
  id: z.string().min(1).optional(),
  content: z.array(scriptedBlockSchema),
  stop_reason: z.enum(scriptedStopReasons).optional(),
  usage: z
    .object({
      input_tokens: z.number().int().nonnegative(),
      output_tokens: z.number().int().nonnegative(),
      cache_read_input_tokens: z.number().int().nonnegative().nullable().optional(),
      cache_creation_input_tokens: z.number().int().nonnegative().nullable().optional(),
    })
    .optional(),
  model: z.string().min(1).optional(),
});

export const scriptSchema = z.array(scriptedResponseSchema);

/** What a script author writes (optional fields may be left out). */
export type ScriptedResponseInput = z.input<typeof scriptedResponseSchema>;
/** A script entry after validation, defaults applied. */
export type ScriptedResponse = z.output<typeof scriptedResponseSchema>;

/** Validates a script; `source` (a file path, or a description) is named in the error so the author can find it. */
export function parseScript(value: unknown, source: string): ScriptedResponse[] {
  const result = scriptSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  const more = result.error.issues.length > 5 ? ` (and ${result.error.issues.length - 5} more)` : '';
  throw new KeelError(
    'invalid-config',
    `The model script ${source} is not a JSON array of Anthropic-format assistant messages ({"role":"assistant","content":[{"type":"text","text":"…"}]}): ${problems.join('; ')}${more}.`,
    { details: { source } },
  );
}

/** Reads and validates a script file; every failure is an `invalid-config` naming the file and what is wrong. */
export function readScriptFile(filePath: string): ScriptedResponse[] {
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    const reason = (error as { code?: string }).code === 'ENOENT' ? 'the file does not exist' : error instanceof Error ? error.message : String(error);
    throw new KeelError('invalid-config', `Cannot read the model script ${filePath}: ${reason}. Check the path given with --model scripted:<file.json>.`, { cause: error, details: { source: filePath } });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // JSON.parse's message quotes the text it choked on; the file may not be a script at all, so only its position is kept.
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : '')?.[1];
    throw new KeelError('invalid-config', `The model script ${filePath} is not valid JSON${position === undefined ? '' : ` (at character ${position})`}; it must be a JSON array of assistant messages.`, { details: { source: filePath } });
  }
  return parseScript(value, filePath);
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'the script';
  const [first, ...rest] = path;
  const head = typeof first === 'number' ? `response ${first + 1}` : String(first);
  return rest.length === 0 ? head : `${head} at ${rest.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('').replace(/^\./, '')}`;
}
