// The lower floor: the bare loop over node:http with a keep-alive agent instead of fetch.
import http from 'node:http';
import { runLoop } from './workload.mjs';

export const name = 'raw-node-http';
export const versions = () => ({ node: process.version });
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function complete(url, body) {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const request = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length, authorization: 'Bearer sk-mock' } }, (response) => {
      const parts = [];
      response.on('data', (part) => parts.push(part));
      response.on('end', () => {
        if (response.statusCode !== 200) return reject(new Error(`HTTP ${response.statusCode}`));
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')).choices[0].message);
      });
      response.on('error', reject);
    });
    request.on('error', reject);
    request.end(payload);
  });
}

export const runSession = (baseURL) => runLoop(baseURL, complete);
