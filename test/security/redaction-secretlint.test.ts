import { lintSource } from '@secretlint/core';
import { creator as recommendedPreset } from '@secretlint/secretlint-rule-preset-recommend';
import { describe, expect, it } from 'vitest';
import { findClaims } from '../../src/security/redaction-claims.ts';
import { redactionDetectors } from '../../src/security/redaction-detectors.ts';
import { alphabet, anthropicKey, awsKey, awsSecret, base64url, githubClassic, npmToken, positives, privateKeyBlock, randomCharacters, sendgridKey, shopifyToken, linearKey, slackBot, slackWebhook } from './redaction-corpus.ts';

/**
 * Keel's secret detectors are linear-time rewrites of the rules of secretlint's recommended preset
 * (`@secretlint/secretlint-rule-preset-recommend` 11.7.1). This test runs secretlint itself on samples of every
 * rule of the preset and on the whole redaction corpus, and fails when secretlint finds a secret in text that
 * Keel's redactor leaves showing. Secrets are built at run time, so that scanners do not flag this file.
 */

const hexCharacters = '0123456789abcdef';

function derKey(seed: number): string {
  // secretlint's private-key rule wants the ASN.1 magic (`MI…`) and 100 characters of body.
  const lines = [`MII${randomCharacters(61, seed, `${alphabet}+/`)}`, ...Array.from({ length: 3 }, (_, index) => randomCharacters(64, seed + index + 1, `${alphabet}+/`))];
  return `-----BEGIN RSA PRIVATE KEY-----\n${lines.join('\n')}\n-----END RSA PRIVATE KEY-----`;
}

const openaiProject = (seed: number): string => ['sk', 'proj', `${randomCharacters(74, seed, base64url)}T3BlbkFJ${randomCharacters(74, seed + 1, base64url)}`].join('-');
function onePassword(seed: number): string {
  // A base64 JSON object, as secretlint's rule decodes it; a length of 3n + 1 bytes ends the base64 in `fQ==`.
  const compact = JSON.stringify({ email: 'svc@1passwordserviceaccounts.lcl', secretKey: randomCharacters(80, seed) });
  const json = `{${' '.repeat((3 - ((compact.length - 1) % 3)) % 3)}${compact.slice(1)}`;
  return ['op', `s_${Buffer.from(json).toString('base64')}`].join('');
}
const fineGrained = (seed: number): string => ['github', 'pat', `${randomCharacters(22, seed)}_${randomCharacters(59, seed + 1)}`].join('_');

/** One or more samples per rule of the preset. */
const presetSamples: readonly string[] = [
  `aws_access_key_id = ${awsKey(201)}`,
  `AWS_SECRET_ACCESS_KEY = "${awsSecret(202)}"`,
  JSON.stringify({ type: 'service_account', private_key_id: randomCharacters(40, 203, hexCharacters), private_key: `${derKey(204)}\n`, client_email: 'svc@project.iam.gserviceaccount.com' }),
  derKey(205),
  `token ${npmToken(206)}`,
  `//registry.npmjs.org/:_authToken=${randomCharacters(36, 207)}`,
  `https://admin:${randomCharacters(16, 208)}@example.com/path`,
  `slack ${slackBot(209)}`,
  `hook ${slackWebhook(210)}`,
  `sendgrid ${sendgridKey(211)}`,
  `shopify ${shopifyToken(212)}`,
  `github ${githubClassic(213)} and ${fineGrained(214)}`,
  `openai ${openaiProject(215)}`,
  `anthropic ${anthropicKey(216)}`,
  `linear ${linearKey(217)}`,
  `op ${onePassword(218)}`,
  `mongodb://app:${randomCharacters(14, 219)}@db.internal:27017/app`,
  `mysql://root:${randomCharacters(14, 220)}@db.internal:3306/app`,
  `postgres://app:${randomCharacters(14, 221)}@db.internal:5432/app`,
  privateKeyBlock('OPENSSH PRIVATE KEY', 222),
];

interface SecretlintFinding {
  readonly ruleId: string;
  readonly range: readonly [number, number];
}

async function secretlint(content: string): Promise<readonly SecretlintFinding[]> {
  const result = await lintSource({
    // secretlint's GCP rule reads service-account files only, by their extension.
    source: content.startsWith('{') ? { filePath: '/sample.json', content, contentType: 'text', ext: '.json' } : { filePath: '/sample.txt', content, contentType: 'text', ext: '.txt' },
    options: { config: { rules: [{ id: '@secretlint/secretlint-rule-preset-recommend', rule: recommendedPreset }] } },
  });
  return result.messages.map((message) => ({ ruleId: message.ruleId, range: message.range }));
}

/** Positions of `text` that the redactor replaces. */
function redactedPositions(text: string): (position: number) => boolean {
  const claims = findClaims(text, redactionDetectors);
  return (position) => claims.some((claim) => position >= claim.start && position < claim.end);
}

// Rules whose range is the token itself must be covered whole; the others report a wider range (the whole
// file for a GCP service account, the whole URL for a connection string, the name before an AWS secret).
const tokenRules = new Set(['github', 'npm', 'slack', 'sendgrid', 'shopify', 'openai', 'anthropic', 'linear', '1password', 'privatekey'].map((name) => `@secretlint/secretlint-rule-${name}`));

describe('secret detectors against secretlint\'s recommended preset', () => {
  it('secretlint flags a sample of every rule of the preset, so the comparison covers them all', async () => {
    const rules = new Set<string>();
    for (const sample of presetSamples) for (const finding of await secretlint(sample)) rules.add(finding.ruleId);
    const expected = recommendedPreset.rules.map((rule) => rule.meta.id).filter((id) => id !== '@secretlint/secretlint-rule-filter-comments');
    expect([...rules].sort()).toEqual(expected.sort());
  });

  it('redacts everything secretlint flags, in the preset samples and the redaction corpus', async () => {
    const missed: string[] = [];
    for (const text of [...presetSamples, ...positives.map((sample) => sample.text)]) {
      const isRedacted = redactedPositions(text);
      for (const finding of await secretlint(text)) {
        const [start, end] = finding.range;
        const positions = Array.from({ length: end - start }, (_, index) => isRedacted(start + index));
        const covered = tokenRules.has(finding.ruleId) ? positions.every(Boolean) : positions.some(Boolean);
        if (!covered) missed.push(`${finding.ruleId}: ${JSON.stringify(text.slice(start, end).slice(0, 60))}`);
      }
    }
    expect(missed).toEqual([]);
  });
});
