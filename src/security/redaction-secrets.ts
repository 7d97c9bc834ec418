import { findJsonWebTokens } from './redaction-jwt.ts';
import { findNamedSecrets } from './redaction-named-secrets.ts';
import { findPrivateKeys, mayContainPrivateKey } from './redaction-private-keys.ts';
import { countWork, findTokens, isAlphanumeric, isBase64Character, isBase64UrlCharacter, isWordCharacter, looksRandom, matchSpans, scanner } from './redaction-scan.ts';
import type { Detector, SensitiveSpan, TokenShape } from './redaction-scan.ts';

/**
 * Secrets: credentials that are never shown to a model or written outside the process, whatever a tool's
 * policy says. Most specific first: where two detectors claim overlapping text, the earlier one names it.
 *
 * Source of the vendor formats: the rules of secretlint's recommended preset
 * (`@secretlint/secretlint-rule-preset-recommend` 11.7.1: aws, gcp, privatekey, npm, basicauth, slack,
 * sendgrid, shopify, github, openai, anthropic, linear, 1password, database-connection-string), rewritten
 * here as linear-time scans, because redaction is synchronous on hot paths and secretlint's `lintSource`
 * is asynchronous. Where a rule checks an exact length (`ghp_` + 36) these accept that length or more, as a
 * redactor must cover the whole token. `test/security/redaction-secretlint.test.ts` runs secretlint itself
 * on the same samples and fails when it finds a secret that these detectors miss. Formats the preset does
 * not cover (Stripe, Google API keys, GitLab, Hugging Face, age, PuTTY, JWTs, bearer and Basic credentials,
 * values of secret-like names) come from each vendor's documented token format.
 */

export type SecretType =
  | 'private-key'
  | 'anthropic-key'
  | 'openai-key'
  | 'aws-access-key'
  | 'aws-secret-key'
  | 'github-token'
  | 'gitlab-token'
  | 'slack-token'
  | 'stripe-key'
  | 'google-api-key'
  | 'npm-token'
  | 'huggingface-token'
  | 'sendgrid-key'
  | 'shopify-token'
  | 'linear-key'
  | 'onepassword-token'
  | 'jwt'
  | 'bearer-token'
  | 'basic-auth'
  | 'url-password'
  | 'named-secret';

function tokens(type: SecretType, hints: readonly string[], shapes: readonly TokenShape[]): Detector<SecretType> {
  return {
    type,
    mayContain: (text) => hints.some((hint) => text.includes(hint)),
    find: (text) => shapes.flatMap((shape) => findTokens(text, shape)),
  };
}

const vendor = (prefix: RegExp, body: TokenShape['body'], minLength: number, accept?: TokenShape['accept']): TokenShape => ({
  prefix: scanner(prefix),
  body,
  minLength,
  redactPrefix: true,
  ...(accept === undefined ? {} : { accept }),
});

const mixedCase = (body: string): boolean => /[a-z]/.test(body) && /[A-Z]/.test(body);
const isSlackCharacter = (code: number): boolean => isAlphanumeric(code) || code === 45;
const isUrlPathCharacter = (code: number): boolean => isBase64UrlCharacter(code) || code === 47;

const privateKey: Detector<SecretType> = { type: 'private-key', mayContain: mayContainPrivateKey, find: findPrivateKeys };

// secretlint anthropic: sk-ant-api0N-…AA; admin keys (sk-ant-admin01-…) too.
const anthropicKey = tokens('anthropic-key', ['sk-ant-'], [vendor(/(?<![A-Za-z0-9_-])sk-ant-/, isBase64UrlCharacter, 20)]);
// secretlint openai: sk-proj-, sk-svcacct-, sk-admin- and legacy sk-; random bodies mix letters and digits.
const openaiKey = tokens('openai-key', ['sk-'], [vendor(/(?<![A-Za-z0-9_-])sk-(?!ant-)/, isBase64UrlCharacter, 20, looksRandom)]);
// secretlint aws: the access key ID prefixes, with ABIA and ACCA (AWS's own list).
const awsAccessKey: Detector<SecretType> = {
  type: 'aws-access-key',
  mayContain: (text) => /A(?:3T|KIA|GPA|IDA|ROA|IPA|NPA|NVA|SIA|BIA|CCA)/.test(text),
  find: (text) => matchSpans(awsAccessKeyPattern, text),
};
const awsAccessKeyPattern = scanner(/(?<![A-Za-z0-9])(?:A3T[A-Z0-9]|AKIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/);
// secretlint aws: AWS_SECRET_ACCESS_KEY = <40>; and the 40 characters that follow an access key ID in a credentials CSV or config.
const awsSecretPatterns = [
  scanner(/["']?(?:AWS|aws|Aws)?_?(?:SECRET|secret|Secret)_?(?:ACCESS|access|Access)_?(?:KEY|key|Key)["']?[ \t]{0,8}(?::|=>|=)[ \t]{0,8}["']?(?<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/),
  scanner(/(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}[\s,;:|"'=]{1,8}(?<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/),
];
const awsSecretKey: Detector<SecretType> = {
  type: 'aws-secret-key',
  mayContain: (text) => /secret_?access_?key|AKIA|ASIA/i.test(text),
  find: (text) => awsSecretPatterns.flatMap((pattern) => matchSpans(pattern, text, (match) => (looksRandom(match.groups?.value ?? '') ? { start: match.indices!.groups!.value![0], end: match.indices!.groups!.value![1] } : undefined))),
};
// secretlint github: ghp_/gho_/ghu_/ghs_/ghr_ + 36, github_pat_ + 82.
const githubToken = tokens('github-token', ['gh', 'github_pat_'], [vendor(/(?<![A-Za-z0-9_])gh[pousr]_/, isWordCharacter, 36), vendor(/(?<![A-Za-z0-9_])github_pat_/, isWordCharacter, 22)]);
// GitLab's documented token prefixes (personal, deploy, runner, trigger, CI job, OAuth, feed, incoming mail, agent) and runner registration tokens.
const gitlabToken = tokens('gitlab-token', ['gl', 'GR1348941'], [
  vendor(/(?<![A-Za-z0-9_-])gl(?:pat|dt|rt|ptt|cbt|soat|ffct|ft|imt|agent|oas)-/, isBase64UrlCharacter, 20),
  vendor(/(?<![A-Za-z0-9_-])GR1348941/, isBase64UrlCharacter, 20),
]);
// secretlint slack: bot, user, app, legacy tokens and incoming webhooks.
const slackToken = tokens('slack-token', ['xox', 'xapp-', 'hooks.slack.com'], [
  vendor(/(?<![A-Za-z0-9])(?:xox[abposre]|xapp)-/, isSlackCharacter, 10),
  vendor(/https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\//, isUrlPathCharacter, 20),
]);
// Stripe secret and restricted keys (live and test) and webhook signing secrets; publishable keys (pk_) are public.
const stripeKey = tokens('stripe-key', ['_live_', '_test_', 'whsec_'], [
  vendor(/(?<![A-Za-z0-9_])(?:sk|rk)_(?:live|test)_/, isAlphanumeric, 20),
  vendor(/(?<![A-Za-z0-9_])whsec_/, (code) => isBase64Character(code) && code !== 61, 24),
]);
// Google API keys: AIza + 35.
const googleApiKey = tokens('google-api-key', ['AIza'], [vendor(/(?<![A-Za-z0-9_-])AIza/, isBase64UrlCharacter, 35)]);
// secretlint npm: npm_ + 36.
const npmToken = tokens('npm-token', ['npm_'], [vendor(/(?<![A-Za-z0-9_])npm_/, isWordCharacter, 36, looksRandom)]);
// Hugging Face user (hf_) and organisation (api_org_) tokens: 34 or more letters of both cases.
const huggingfaceToken = tokens('huggingface-token', ['hf_', 'api_org_'], [vendor(/(?<![A-Za-z0-9_])(?:hf|api_org)_/, isAlphanumeric, 30, mixedCase)]);
// secretlint sendgrid: SG.<id>.<secret>.
const sendgridKey = tokens('sendgrid-key', ['SG.'], [vendor(/(?<![A-Za-z0-9_])SG\./, (code) => isBase64UrlCharacter(code) || code === 46, 40, (body) => body.includes('.'))]);
// secretlint shopify: shppa_/shpca_/shpat_/shpss_ + 32.
const shopifyToken = tokens('shopify-token', ['shp'], [vendor(/(?<![A-Za-z0-9])shp(?:pa|ca|at|ss)_/, isAlphanumeric, 32)]);
// secretlint linear: lin_api_ + 32.
const linearKey = tokens('linear-key', ['lin_api_'], [vendor(/(?<![A-Za-z0-9_])lin_api_/, isWordCharacter, 32)]);
// secretlint 1password: service account tokens, ops_ + base64 JSON.
const onepasswordToken = tokens('onepassword-token', ['ops_ey'], [vendor(/(?<![A-Za-z0-9_])ops_ey/, isBase64Character, 98)]);

// Only the credential goes, so "Authorization: Bearer [REDACTED:bearer-token]" still reads as what it was.
const bearerToken = tokens('bearer-token', ['earer', 'EARER'], [
  { prefix: scanner(/(?<![A-Za-z])bearer[ \t]{1,8}/i), body: (code) => isBase64UrlCharacter(code) || code === 46 || code === 126 || code === 43 || code === 47 || code === 61, minLength: 16, redactPrefix: false, accept: (body) => /\d/.test(body) },
]);

const basicAuth = tokens('basic-auth', ['asic', 'ASIC'], [
  { prefix: scanner(/(?<![A-Za-z])basic[ \t]{1,8}/i), body: isBase64Character, minLength: 8, redactPrefix: false, accept: isEncodedCredential },
]);

/** Whether base64 text decodes to `user:password`. */
function isEncodedCredential(body: string): boolean {
  const decoded = Buffer.from(body, 'base64').toString('utf8');
  return /^[^\s:]{1,256}:\S/.test(decoded) && !decoded.includes('\uFFFD');
}

const jwt: Detector<SecretType> = { type: 'jwt', mayContain: (text) => text.includes('.eyJ'), find: findJsonWebTokens };

const isAuthorityCharacter = (code: number): boolean => code > 32 && code !== 47 && code !== 63 && code !== 35 && code !== 34 && code !== 39 && code !== 60 && code !== 62 && code !== 92;

/**
 * The password of `scheme://user:password@host` (secretlint basicauth and database-connection-string), with
 * `@` allowed inside it (the last `@` of the authority ends it), and a random-looking user name that is a
 * token on its own (`https://<token>@github.com`).
 */
function findUrlCredentials(text: string): SensitiveSpan[] {
  const spans: SensitiveSpan[] = [];
  let from = 0;
  let separator: number;
  while ((separator = text.indexOf('://', from)) !== -1) {
    countWork(1);
    const authorityStart = separator + 3;
    let colon = -1;
    let at = -1;
    let authorityEnd = authorityStart;
    for (; authorityEnd < text.length && isAuthorityCharacter(text.charCodeAt(authorityEnd)); authorityEnd += 1) {
      const code = text.charCodeAt(authorityEnd);
      if (code === 58 && colon === -1) colon = authorityEnd;
      else if (code === 64) at = authorityEnd;
    }
    countWork(authorityEnd - authorityStart);
    from = Math.max(authorityEnd, authorityStart);
    if (at === -1 || !/[A-Za-z0-9]/.test(text.charAt(separator - 1))) continue;
    if (colon !== -1 && colon < at) {
      if (at > colon + 1) spans.push({ start: colon + 1, end: at });
    } else if (at - authorityStart >= 20 && looksRandom(text.slice(authorityStart, at))) spans.push({ start: authorityStart, end: at });
  }
  return spans;
}

const urlPassword: Detector<SecretType> = { type: 'url-password', mayContain: (text) => text.includes('://'), find: findUrlCredentials };

const namedSecret: Detector<SecretType> = {
  type: 'named-secret',
  mayContain: (text) => /pass|secret|token|key|credential|session|sig/i.test(text),
  find: findNamedSecrets,
};

export const secretDetectors: readonly Detector<SecretType>[] = [
  privateKey,
  anthropicKey,
  openaiKey,
  awsAccessKey,
  awsSecretKey,
  githubToken,
  gitlabToken,
  slackToken,
  stripeKey,
  googleApiKey,
  npmToken,
  huggingfaceToken,
  sendgridKey,
  shopifyToken,
  linearKey,
  onepasswordToken,
  jwt,
  bearerToken,
  basicAuth,
  urlPassword,
  namedSecret,
];
