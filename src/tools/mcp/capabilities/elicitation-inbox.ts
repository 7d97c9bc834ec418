import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeelError } from '../../../errors/index.ts';
import { compileInputSchema } from '../json-schema-input.ts';

/** A server's question waiting for a person, or answered. */
export interface ElicitationItem {
  readonly id: string;
  /** Identifies the same question asked again (a retried or resumed call): server, call and the question itself. */
  readonly key: string;
  readonly server: string;
  readonly message: string;
  readonly requestedSchema: Readonly<Record<string, unknown>>;
  /** The session and tool call that led to the question, when one call was in flight on the connection. */
  readonly sessionId?: string;
  readonly tool?: string;
  readonly callId?: string;
  readonly createdAt: number;
  readonly status: 'pending' | 'answered';
  readonly answer?: ElicitationAnswer;
  readonly answeredAt?: number;
  readonly answeredBy?: string;
}

/** The person's answer: MCP's three actions; `content` only with `accept`, checked against the requested schema. */
export interface ElicitationAnswer {
  readonly action: 'accept' | 'decline' | 'cancel';
  readonly content?: Readonly<Record<string, string | number | boolean | readonly string[]>>;
}

const idPattern = /^el_[a-f0-9]{16}$/;
const maxItemBytes = 512_000;
/** Older answered items are dropped when the folder holds more than this many. */
const maxItems = 1_000;

/**
 * Durable human input for MCP elicitation: one JSON file per question (mode 0600, in a 0700 folder), written
 * atomically. A running agent records a question and waits for its answer; a person lists and answers questions
 * with `keel mcp requests` and `keel mcp answer`, from any process. Because questions and answers live on disk
 * under a key made of the server, the tool call's idempotency key and the question, a call retried or resumed after
 * a restart is answered from the stored answer instead of asking again.
 */
export class ElicitationInbox {
  readonly directory: string;

  constructor(directory: string) {
    this.directory = directory;
  }

  list(filter: { readonly status?: ElicitationItem['status'] } = {}): ElicitationItem[] {
    let names: string[];
    try {
      names = readdirSync(this.directory);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') return [];
      throw error;
    }
    const items: ElicitationItem[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || !idPattern.test(name.slice(0, -5))) continue;
      const item = this.readFile(join(this.directory, name));
      if (item !== null && (filter.status === undefined || item.status === filter.status)) items.push(item);
    }
    return items.sort((left, right) => left.createdAt - right.createdAt);
  }

  get(id: string): ElicitationItem | null {
    if (!idPattern.test(id)) return null;
    return this.readFile(join(this.directory, `${id}.json`));
  }

  findByKey(key: string): ElicitationItem | null {
    return this.list().find((item) => item.key === key) ?? null;
  }

  /** Records a new pending question and returns it. */
  add(item: Omit<ElicitationItem, 'id' | 'status' | 'createdAt'>): ElicitationItem {
    const stored: ElicitationItem = { ...item, id: `el_${randomBytes(8).toString('hex')}`, status: 'pending', createdAt: Date.now() };
    this.write(stored);
    this.prune();
    return stored;
  }

  /**
   * Answers a pending question. `accept` content is validated against the schema the server asked with (types,
   * required fields, enums, bounds); a person sees what is wrong instead of the server getting it.
   */
  answer(id: string, answer: ElicitationAnswer, answeredBy: string): ElicitationItem {
    const item = this.get(id);
    if (item === null) throw new KeelError('invalid-argument', `No MCP input request "${id}"; \`keel mcp requests\` lists the pending ones.`);
    if (item.status !== 'pending') throw new KeelError('approval-not-pending', `MCP input request "${id}" was already answered (${item.answer?.action ?? 'unknown'}).`);
    if (answer.action === 'accept') checkContent(item, answer.content ?? {});
    const answered: ElicitationItem = {
      ...item,
      status: 'answered',
      answer: answer.action === 'accept' ? { action: 'accept', content: answer.content ?? {} } : { action: answer.action },
      answeredAt: Date.now(),
      answeredBy,
    };
    this.write(answered);
    return answered;
  }

  private readFile(path: string): ElicitationItem | null {
    try {
      const stats = statSync(path);
      if (!stats.isFile() || stats.size > maxItemBytes) return null;
      return JSON.parse(readFileSync(path, 'utf8')) as ElicitationItem;
    } catch {
      // Removed meanwhile, or half-written by a process that crashed before the rename: not an item.
      return null;
    }
  }

  private write(item: ElicitationItem): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const temporary = join(this.directory, `.${item.id}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      writeFileSync(temporary, JSON.stringify(item), { mode: 0o600, flag: 'wx' });
      chmodSync(temporary, 0o600);
      renameSync(temporary, join(this.directory, `${item.id}.json`));
    } catch (error) {
      try {
        unlinkSync(temporary);
      } catch {
        // Never created, or already renamed.
      }
      throw new KeelError('storage-failure', `Could not save the MCP input request in ${this.directory}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  private prune(): void {
    const answered = this.list({ status: 'answered' });
    const excess = this.list().length - maxItems;
    for (const item of answered.slice(0, Math.max(0, excess))) {
      try {
        unlinkSync(join(this.directory, `${item.id}.json`));
      } catch {
        // Already gone.
      }
    }
  }
}

function checkContent(item: ElicitationItem, content: Readonly<Record<string, unknown>>): void {
  const compiled = compileInputSchema(item.requestedSchema);
  if (!compiled.ok) throw new KeelError('invalid-argument', `MCP input request "${item.id}" asks with a schema Keel cannot check: ${compiled.reason}. Decline or cancel it.`);
  const result = compiled.input.safeParse(content);
  if (result.success) return;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(answer)'} ${issue.message}`).join('; ');
  throw new KeelError('invalid-argument', `The answer to MCP input request "${item.id}" does not match what the server asked for: ${problems}.`);
}
