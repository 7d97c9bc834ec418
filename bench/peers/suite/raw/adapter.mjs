// The baseline: the bare loop over Node's global fetch (undici), non-streaming.
import { runLoop } from './workload.mjs';

export const name = 'raw-fetch';
export const versions = () => ({ node: process.version });

async function complete(url, body) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sk-mock' }, body: JSON.stringify(body) });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return (await response.json()).choices[0].message;
}

export const runSession = (baseURL) => runLoop(baseURL, complete);
