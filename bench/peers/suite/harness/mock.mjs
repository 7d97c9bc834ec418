// A deterministic OpenAI Chat Completions server for the peer workload (node:http only, so every framework pays the
// same server cost). The conversation decides the turn: turn = 1 + the number of `tool` messages sent so far.
// Before the last turn the answer is one call lookup({"key":"k<turn>"}); on the last turn it is the final text.
//
// Environment: PORT (0 picks a free one), MOCK_LATENCY_MS (0), MOCK_TURNS (10), MOCK_PROMPT_TOKENS (100),
// MOCK_COMPLETION_TOKENS (20). GET /stats returns the counters and the server's CPU time; POST /reset zeroes them.
// Prints "MOCK_READY <port>" once it listens on 127.0.0.1.
import http from 'node:http';

const latencyMs = Number(process.env.MOCK_LATENCY_MS ?? 0);
const turns = Number(process.env.MOCK_TURNS ?? 10);
const promptTokens = Number(process.env.MOCK_PROMPT_TOKENS ?? 100);
const completionTokens = Number(process.env.MOCK_COMPLETION_TOKENS ?? 20);
const finalText = `All ${turns - 1} keys looked up; the answer is 42.`;
/** A tool result shorter than this means the framework lost or truncated what the tool returned. */
const minimumToolResultLength = 200;

const counters = { requests: 0, stream: 0, toolCalls: 0, finals: 0, badToolResults: 0, overTurns: 0, errors: 0 };
let completionNumber = 0;

function usage() {
  return { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
}

/** What this request's turn answers, from the tool results the conversation already holds. */
function decide(body) {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  let toolResults = 0;
  for (const message of messages) {
    if (message?.role !== 'tool') continue;
    toolResults += 1;
    const content = typeof message.content === 'string' ? message.content : JSON.stringify(message.content ?? '');
    if (content.length < minimumToolResultLength) counters.badToolResults += 1;
  }
  const turn = toolResults + 1;
  if (turn > turns) counters.overTurns += 1;
  if (turn < turns) {
    counters.toolCalls += 1;
    return { call: { id: `call_${turn}`, name: 'lookup', arguments: JSON.stringify({ key: `k${turn}` }) } };
  }
  counters.finals += 1;
  return { text: finalText };
}

function completion(body, answer) {
  const message = answer.call
    ? { role: 'assistant', content: null, tool_calls: [{ id: answer.call.id, type: 'function', function: { name: answer.call.name, arguments: answer.call.arguments } }] }
    : { role: 'assistant', content: answer.text };
  completionNumber += 1;
  return {
    id: `chatcmpl-${completionNumber}`, object: 'chat.completion', created: 1700000000, model: body.model || 'mock-model', system_fingerprint: 'fp_mock',
    choices: [{ index: 0, message, logprobs: null, finish_reason: answer.call ? 'tool_calls' : 'stop' }],
    usage: usage(),
  };
}

/** The same answer as server-sent chunks: tool-call arguments split in two, text word by word. */
function chunks(body, answer) {
  completionNumber += 1;
  const frame = { id: `chatcmpl-${completionNumber}`, object: 'chat.completion.chunk', created: 1700000000, model: body.model || 'mock-model', system_fingerprint: 'fp_mock' };
  const chunk = (delta, finishReason = null) => ({ ...frame, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] });
  const list = [chunk({ role: 'assistant', content: answer.call ? null : '' })];
  if (answer.call) {
    const middle = Math.floor(answer.call.arguments.length / 2);
    list.push(chunk({ tool_calls: [{ index: 0, id: answer.call.id, type: 'function', function: { name: answer.call.name, arguments: '' } }] }));
    list.push(chunk({ tool_calls: [{ index: 0, function: { arguments: answer.call.arguments.slice(0, middle) } }] }));
    list.push(chunk({ tool_calls: [{ index: 0, function: { arguments: answer.call.arguments.slice(middle) } }] }));
    list.push(chunk({}, 'tool_calls'));
  } else {
    for (const word of answer.text.match(/\S+\s*/g) ?? []) list.push(chunk({ content: word }));
    list.push(chunk({}, 'stop'));
  }
  if (body.stream_options?.include_usage) list.push({ ...frame, choices: [], usage: usage() });
  return list;
}

function sendJson(response, status, value) {
  const text = JSON.stringify(value);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

function answerCompletion(request, response) {
  const parts = [];
  request.on('data', (part) => parts.push(part));
  request.on('end', () => {
    let body;
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      counters.errors += 1;
      return sendJson(response, 400, { error: { message: 'mock: the request body is not JSON', type: 'invalid_request_error' } });
    }
    counters.requests += 1;
    const answer = decide(body);
    const respond = () => {
      if (!body.stream) return sendJson(response, 200, completion(body, answer));
      counters.stream += 1;
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      response.end(`${chunks(body, answer).map((item) => `data: ${JSON.stringify(item)}\n\n`).join('')}data: [DONE]\n\n`);
    };
    if (latencyMs > 0) setTimeout(respond, latencyMs);
    else respond();
  });
}

const server = http.createServer((request, response) => {
  const url = request.url ?? '';
  if (request.method === 'GET' && url.startsWith('/stats')) {
    const cpu = process.cpuUsage();
    return sendJson(response, 200, { ...counters, cpuMs: (cpu.user + cpu.system) / 1000 });
  }
  if (request.method === 'POST' && url.startsWith('/reset')) {
    for (const key of Object.keys(counters)) counters[key] = 0;
    return sendJson(response, 200, { reset: true });
  }
  if (request.method === 'GET' && url.endsWith('/models')) {
    return sendJson(response, 200, { object: 'list', data: [{ id: 'mock-model', object: 'model', created: 0, owned_by: 'mock' }] });
  }
  if (request.method === 'POST' && url.endsWith('/chat/completions')) return answerCompletion(request, response);
  counters.errors += 1;
  return sendJson(response, 404, { error: { message: `mock: no route for ${request.method} ${url}`, type: 'not_found' } });
});
// Long concurrent runs leave keep-alive sockets idle for a minute or more under load.
server.keepAliveTimeout = 600_000;
server.headersTimeout = 605_000;
server.requestTimeout = 0;
server.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1', backlog: 4096 }, () => {
  console.log(`MOCK_READY ${server.address().port}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
