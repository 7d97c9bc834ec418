// A deterministic OpenAI Chat Completions server for the turn-overhead benchmark. It runs in its own process
// so that its CPU is not counted as the client's:
//
//   node --import tsx bench/workload-mock.ts        prints "MOCK_READY <port>" once listening
//
// The workload: turn k = 1 + the number of role:"tool" messages in the request.
//   k <  MOCK_TURNS  one tool call lookup({"key":"k<k>"}), finish_reason "tool_calls"
//   k == MOCK_TURNS  a final text containing "42", finish_reason "stop"
// Environment: PORT (0 picks a free port), MOCK_LATENCY_MS (0), MOCK_TURNS (10),
//              MOCK_PROMPT_TOKENS (100), MOCK_COMPLETION_TOKENS (20).
// Also: GET /stats (counters and the server's own CPU time) and POST /reset (zeroes the counters),
// which the benchmark uses to check that every client ran exactly the intended workload.
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface MockStats {
  requests: number;
  /** Requests with `stream: true`. */
  stream: number;
  toolCalls: number;
  finals: number;
  /** Tool messages shorter than 200 characters: the client lost or cut the tool's output. */
  badToolResults: number;
  /** Requests past the last turn: the client did not stop at the final answer. */
  overTurns: number;
  /** Unparseable bodies and unknown routes. */
  errors: number;
}

export type MockStatsReport = MockStats & { readonly cpuMs: number };

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number, got "${raw}".`);
  return value;
}

const latencyMs = numberFromEnv('MOCK_LATENCY_MS', 0);
const turns = numberFromEnv('MOCK_TURNS', 10);
const promptTokens = numberFromEnv('MOCK_PROMPT_TOKENS', 100);
const completionTokens = numberFromEnv('MOCK_COMPLETION_TOKENS', 20);
const finalText = `All ${turns - 1} keys looked up; the answer is 42.`;
const minimumToolResultLength = 200;

const stats: MockStats = { requests: 0, stream: 0, toolCalls: 0, finals: 0, badToolResults: 0, overTurns: 0, errors: 0 };
let completionCounter = 0;

type Reply = { readonly turn: number; readonly toolCall: { readonly id: string; readonly name: string; readonly arguments: string } } | { readonly turn: number; readonly text: string };

interface ChatRequest {
  readonly model: string;
  readonly stream: boolean;
  readonly includeUsage: boolean;
  readonly messages: readonly unknown[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readChatRequest(body: unknown): ChatRequest | null {
  if (!isRecord(body)) return null;
  const streamOptions = body.stream_options;
  return {
    model: typeof body.model === 'string' && body.model !== '' ? body.model : 'mock-model',
    stream: body.stream === true,
    includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
    messages: Array.isArray(body.messages) ? body.messages : [],
  };
}

function planReply(request: ChatRequest): Reply {
  let toolMessages = 0;
  for (const message of request.messages) {
    if (!isRecord(message) || message.role !== 'tool') continue;
    toolMessages += 1;
    const content = typeof message.content === 'string' ? message.content : JSON.stringify(message.content ?? '');
    if (content.length < minimumToolResultLength) stats.badToolResults += 1;
  }
  const turn = toolMessages + 1;
  if (turn > turns) stats.overTurns += 1;
  if (turn < turns) {
    stats.toolCalls += 1;
    return { turn, toolCall: { id: `call_${turn}`, name: 'lookup', arguments: JSON.stringify({ key: `k${turn}` }) } };
  }
  stats.finals += 1;
  return { turn, text: finalText };
}

const usage = () => ({ prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens });

function completionBody(request: ChatRequest, reply: Reply): string {
  completionCounter += 1;
  const message =
    'toolCall' in reply
      ? {
          role: 'assistant',
          content: null,
          refusal: null,
          tool_calls: [{ id: reply.toolCall.id, type: 'function', function: { name: reply.toolCall.name, arguments: reply.toolCall.arguments } }],
        }
      : { role: 'assistant', content: reply.text, refusal: null };
  return JSON.stringify({
    id: `chatcmpl-${completionCounter}`,
    object: 'chat.completion',
    created: 1_700_000_000,
    model: request.model,
    system_fingerprint: 'fp_mock',
    choices: [{ index: 0, message, logprobs: null, finish_reason: 'toolCall' in reply ? 'tool_calls' : 'stop' }],
    usage: usage(),
  });
}

/** The SSE body of a streamed reply, in OpenAI's chunk order: role, content or tool-call pieces, finish reason, usage, [DONE]. */
function streamBody(request: ChatRequest, reply: Reply): string {
  completionCounter += 1;
  const envelope = { id: `chatcmpl-${completionCounter}`, object: 'chat.completion.chunk', created: 1_700_000_000, model: request.model, system_fingerprint: 'fp_mock' };
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) => ({
    ...envelope,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  });
  const chunks: unknown[] = [];
  if ('toolCall' in reply) {
    const { id, name, arguments: args } = reply.toolCall;
    const half = Math.floor(args.length / 2);
    chunks.push(chunk({ role: 'assistant', content: null }));
    chunks.push(chunk({ tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: '' } }] }));
    chunks.push(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, half) } }] }));
    chunks.push(chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(half) } }] }));
    chunks.push(chunk({}, 'tool_calls'));
  } else {
    chunks.push(chunk({ role: 'assistant', content: '' }));
    for (const word of reply.text.match(/\S+\s*/g) ?? []) chunks.push(chunk({ content: word }));
    chunks.push(chunk({}, 'stop'));
  }
  if (request.includeUsage) chunks.push({ ...envelope, choices: [], usage: usage() });
  let body = '';
  for (const item of chunks) body += `data: ${JSON.stringify(item)}\n\n`;
  return `${body}data: [DONE]\n\n`;
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function handleCompletion(incoming: IncomingMessage, response: ServerResponse): void {
  const parts: Buffer[] = [];
  incoming.on('data', (part: Buffer) => parts.push(part));
  incoming.on('end', () => {
    let request: ChatRequest | null = null;
    try {
      request = readChatRequest(JSON.parse(Buffer.concat(parts).toString('utf8')));
    } catch {
      request = null;
    }
    if (request === null) {
      stats.errors += 1;
      sendJson(response, 400, { error: { message: 'mock: the body is not a JSON object', type: 'invalid_request_error' } });
      return;
    }
    const chat = request;
    stats.requests += 1;
    if (chat.stream) stats.stream += 1;
    const reply = planReply(chat);
    const respond = (): void => {
      if (chat.stream) {
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        response.end(streamBody(chat, reply));
      } else {
        const text = completionBody(chat, reply);
        response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        response.end(text);
      }
    };
    if (latencyMs > 0) setTimeout(respond, latencyMs);
    else respond();
  });
}

const server = http.createServer((incoming, response) => {
  const method = incoming.method ?? '';
  const url = incoming.url ?? '';
  if (method === 'GET' && url.startsWith('/stats')) {
    const cpu = process.cpuUsage();
    const report: MockStatsReport = { ...stats, cpuMs: (cpu.user + cpu.system) / 1000 };
    sendJson(response, 200, report);
    return;
  }
  if (method === 'POST' && url.startsWith('/reset')) {
    incoming.resume();
    for (const key of Object.keys(stats) as (keyof MockStats)[]) stats[key] = 0;
    sendJson(response, 200, { ok: true });
    return;
  }
  if (method === 'POST' && url.endsWith('/chat/completions')) {
    handleCompletion(incoming, response);
    return;
  }
  incoming.resume();
  stats.errors += 1;
  sendJson(response, 404, { error: { message: `mock: unsupported ${method} ${url}`, type: 'not_found' } });
});
// Keep-alive sockets of the clients stay open between sessions; no timeout may cut a slow, saturated client.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.requestTimeout = 0;

server.listen({ port: numberFromEnv('PORT', 0), host: '127.0.0.1', backlog: 4096 }, () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  console.log(`MOCK_READY ${port}`);
});

const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
