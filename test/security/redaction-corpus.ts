import type { RedactionType } from '../../src/security/redaction-detectors.ts';
import { redactionMarker } from '../../src/security/redaction.ts';

/**
 * The redaction corpus: text that must be redacted (with the exact expected output) and look-alikes
 * that must come through unchanged. Credentials are assembled at run time from a seeded generator,
 * so that secret scanners do not flag this file and the values still have the shape of real ones.
 */

export interface SensitiveValue {
  readonly type: RedactionType;
  readonly value: string;
}

export interface PositiveSample {
  readonly text: string;
  readonly expected: string;
  readonly secrets: readonly SensitiveValue[];
}

export interface LookAlike {
  /** What the text resembles, for the failure message. */
  readonly kind: string;
  readonly text: string;
}

export const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Deterministic pseudo-random characters (a linear congruential generator), always ending with a letter and a digit. */
export function randomCharacters(length: number, seed: number, characters: string = alphabet): string {
  let state = seed;
  let result = '';
  for (let index = 0; index < length - 2; index += 1) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    // The high bits: the low bits of this generator repeat with a short period.
    result += characters[Math.floor(state / 65_536) % characters.length];
  }
  return result + (characters.match(/[A-Za-z]/)?.[0] ?? '') + (characters.match(/\d/)?.[0] ?? '');
}

const upperAndDigits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const base64url = `${alphabet}-_`;

export const anthropicKey = (seed: number): string => ['sk', 'ant', 'api03', `${randomCharacters(93, seed, base64url)}AA`].join('-');
export const openaiProjectKey = (seed: number): string => ['sk', 'proj', randomCharacters(156, seed, base64url)].join('-');
export const openaiLegacyKey = (seed: number): string => ['sk', `${randomCharacters(20, seed)}T3BlbkFJ${randomCharacters(20, seed + 1)}`].join('-');
export const awsKey = (seed: number): string => ['AK', 'IA', randomCharacters(16, seed, upperAndDigits)].join('');
export const githubClassic = (seed: number): string => ['gh', `p_${randomCharacters(36, seed)}`].join('');
export const githubFineGrained = (seed: number): string => ['github', 'pat', `${randomCharacters(22, seed)}_${randomCharacters(59, seed + 1)}`].join('_');
export const slackBot = (seed: number): string => ['xo', 'xb-', `${1000 + seed}23456789012-1234567890123-`, randomCharacters(24, seed)].join('');
export const slackWebhook = (seed: number): string => `https://hooks.slack.com/services/T${randomCharacters(8, seed, upperAndDigits)}/B${randomCharacters(8, seed + 1, upperAndDigits)}/${randomCharacters(24, seed + 2)}`;

const lowerAndDigits = 'abcdefghijklmnopqrstuvwxyz0123456789';
const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const awsSecret = (seed: number): string => `${randomCharacters(20, seed, `${alphabet}+/`)}/${randomCharacters(19, seed + 1, `${alphabet}+`)}`;
export const gitlabToken = (seed: number): string => ['gl', 'pat-', randomCharacters(20, seed, base64url)].join('');
export const stripeSecret = (seed: number): string => ['sk', 'live', randomCharacters(99, seed)].join('_');
export const stripeRestricted = (seed: number): string => ['rk', 'test', randomCharacters(24, seed)].join('_');
export const stripeWebhook = (seed: number): string => ['wh', `sec_${randomCharacters(32, seed)}`].join('');
export const googleApiKey = (seed: number): string => ['AI', `za${randomCharacters(35, seed, base64url)}`].join('');
export const npmToken = (seed: number): string => ['np', `m_${randomCharacters(36, seed)}`].join('');
export const huggingfaceToken = (seed: number): string => ['h', `f_${randomCharacters(34, seed, letters)}`].join('');
export const sendgridKey = (seed: number): string => ['S', `G.${randomCharacters(22, seed, base64url)}.${randomCharacters(43, seed + 1, base64url)}`].join('');
export const shopifyToken = (seed: number): string => ['shp', `at_${randomCharacters(32, seed, lowerAndDigits)}`].join('');
export const linearKey = (seed: number): string => ['lin', `_api_${randomCharacters(40, seed)}`].join('');
export const onepasswordToken = (seed: number): string => ['op', `s_eyJ${randomCharacters(250, seed, `${alphabet}+/`)}`].join('');
export const ageKey = (seed: number): string => ['AGE', 'SECRET', 'KEY', `1${randomCharacters(58, seed, upperAndDigits)}`].join('-');

export function puttyKeyFile(seed: number): { readonly before: string; readonly secret: string } {
  const publicLines = `${randomCharacters(64, seed, `${alphabet}+/`)}\n${randomCharacters(16, seed + 1, `${alphabet}+/`)}`;
  const before = `PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: ed25519-key-20260115\nPublic-Lines: 2\n${publicLines}\n`;
  const secret = `Private-Lines: 1\n${randomCharacters(44, seed + 2, `${alphabet}+/`)}\nPrivate-MAC: ${randomCharacters(64, seed + 3, '0123456789abcdef')}`;
  return { before, secret };
}

export function jsonWebToken(seed: number): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: `user_${seed}`, iat: 1_767_225_600 })}.${randomCharacters(43, seed, base64url)}`;
}

export function privateKeyBlock(kind: string, seed: number): string {
  const lines = Array.from({ length: 6 }, (_, index) => randomCharacters(64, seed + index, `${alphabet}+/`));
  return `-----BEGIN ${kind}-----\n${lines.join('\n')}\n-----END ${kind}-----`;
}

const secret = (type: RedactionType, value: string): SensitiveValue => ({ type, value });

/** A tagged template: the text with the values in place, and the text with their markers in place. */
function sample(strings: TemplateStringsArray, ...secrets: SensitiveValue[]): PositiveSample {
  let text = strings[0] ?? '';
  let expected = strings[0] ?? '';
  secrets.forEach((item, index) => {
    text += item.value + (strings[index + 1] ?? '');
    expected += redactionMarker(item.type) + (strings[index + 1] ?? '');
  });
  return { text, expected, secrets };
}

/** A sample whose sensitive value follows text that is not itself a template literal. */
function afterText(prefix: string, item: SensitiveValue): PositiveSample {
  return { text: prefix + item.value, expected: prefix + redactionMarker(item.type), secrets: [item] };
}

const key = (type: RedactionType, value: string): SensitiveValue => secret(type, value);
const email = (value: string): SensitiveValue => secret('email', value);
const card = (value: string): SensitiveValue => secret('card-number', value);
const phone = (value: string): SensitiveValue => secret('phone', value);
const iban = (value: string): SensitiveValue => secret('iban', value);
const ip = (value: string): SensitiveValue => secret('ipv4', value);

export const positives: readonly PositiveSample[] = [
  // API keys and tokens
  sample`ANTHROPIC_API_KEY=${key('anthropic-key', anthropicKey(1))}`,
  sample`{"apiKey": "${key('anthropic-key', anthropicKey(2))}", "model": "claude-sonnet-4-6"}`,
  sample`export OPENAI_API_KEY='${key('openai-key', openaiProjectKey(3))}'`,
  sample`legacy key ${key('openai-key', openaiLegacyKey(4))} rotated on 2026-01-15`,
  sample`aws_access_key_id = ${key('aws-access-key', awsKey(5))}\nregion = us-east-1`,
  sample`Using credentials ${key('aws-access-key', awsKey(6))}/20260115/us-east-1/s3/aws4_request`,
  sample`git clone https://${key('github-token', githubClassic(7))}@github.com/acme/app.git`,
  sample`GITHUB_TOKEN: ${key('github-token', githubFineGrained(8))}`,
  sample`slack token ${key('slack-token', slackBot(9))} for #alerts`,
  sample`webhook: ${key('slack-token', slackWebhook(10))}`,
  sample`Authorization: Bearer ${key('jwt', jsonWebToken(11))}`,
  sample`cookie session=${key('jwt', jsonWebToken(12))}; Path=/; HttpOnly`,
  sample`curl -H "Authorization: Bearer ${key('bearer-token', randomCharacters(40, 13, base64url))}" https://api.example.com`,
  sample`authorization: bearer ${key('bearer-token', `${randomCharacters(32, 14)}==`)}`,
  sample`DATABASE_URL=postgres://app:${key('url-password', `Sup3r-${randomCharacters(12, 15)}`)}@db.internal:5432/app`,
  sample`redis://default:${key('url-password', randomCharacters(20, 16))}@cache:6379/0`,
  sample`${key('private-key', privateKeyBlock('RSA PRIVATE KEY', 17))}`,
  sample`key file:\n${key('private-key', privateKeyBlock('OPENSSH PRIVATE KEY', 18))}\n(end of file)`,
  sample`{"private_key": "${key('private-key', privateKeyBlock('PRIVATE KEY', 19).replaceAll('\n', '\\n'))}", "client_email": "${email('svc@project-1234.iam.gserviceaccount.com')}"}`,
  sample`truncated: ${key('private-key', `-----BEGIN EC PRIVATE KEY-----\n${randomCharacters(64, 20, `${alphabet}+/`)}\n${randomCharacters(30, 21, `${alphabet}+/`)}`)}`,
  // formats secretlint's recommended preset covers, and vendor formats it does not
  sample`aws_secret_access_key = ${key('aws-secret-key', awsSecret(30))}`,
  sample`Access key ID,Secret access key\n${key('aws-access-key', awsKey(31))},${key('aws-secret-key', awsSecret(32))}`,
  sample`git remote add origin https://oauth2:${key('gitlab-token', gitlabToken(33))}@gitlab.com/acme/app.git`,
  sample`STRIPE_SECRET_KEY=${key('stripe-key', stripeSecret(34))} and restricted ${key('stripe-key', stripeRestricted(35))}`,
  sample`webhook secret: ${key('stripe-key', stripeWebhook(36))}`,
  sample`GET https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key=${key('google-api-key', googleApiKey(37))}`,
  sample`//registry.npmjs.org/:_authToken=${key('npm-token', npmToken(38))}`,
  sample`HF_TOKEN=${key('huggingface-token', huggingfaceToken(39))}`,
  sample`sendgrid ${key('sendgrid-key', sendgridKey(40))}`,
  sample`X-Shopify-Access-Token: ${key('shopify-token', shopifyToken(41))}`,
  sample`linear ${key('linear-key', linearKey(42))}`,
  sample`OP_SERVICE_ACCOUNT_TOKEN=${key('onepassword-token', onepasswordToken(43))}`,
  afterText(puttyKeyFile(44).before, key('private-key', puttyKeyFile(44).secret)),
  sample`# created: 2026-01-15\n${key('private-key', ageKey(45))}`,
  sample`${key('private-key', `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: "rsa-key-20260115"\n${privateKeyBlock('X', 46).split('\n').slice(1, -1).join('\n')}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----`)}`,
  sample`Authorization: Basic ${key('basic-auth', Buffer.from(`admin:${randomCharacters(14, 47)}`).toString('base64'))}`,
  sample`https://deploy:${key('url-password', `p@ss-${randomCharacters(10, 48)}`)}@example.com/releases`,
  // values of secret-like names
  sample`db_password=${key('named-secret', randomCharacters(12, 49))}`,
  sample`GET /v1/items?api_key=${key('named-secret', randomCharacters(24, 50))}&limit=10`,
  sample`{"client_secret": "${key('named-secret', randomCharacters(30, 51, base64url))}", "client_id": "web"}`,
  sample`database:\n  password: ${key('named-secret', `${randomCharacters(10, 52)}!`)}\n  host: db`,
  sample`X-Api-Key: ${key('named-secret', randomCharacters(32, 53, lowerAndDigits))}`,
  sample`service token ${key('named-secret', randomCharacters(32, 54))} expires tomorrow`,
  // US social security numbers
  sample`SSN ${secret('us-ssn', '219-09-9999')} on file`,
  sample`social security number: ${secret('us-ssn', '219 09 9999')}`,
  // email addresses
  sample`Contact ${email('jane.doe@example.com')} for access.`,
  sample`From: "Support" <${email('support+tickets@help.acme.co.uk')}>`,
  sample`{"customer":{"email":"${email('o.brien_77@mail.example.org')}","name":"Pat"}}`,
  sample`cc: ${email('ANNA.SMITH@EXAMPLE.DE')}, ${email('b@x.io')}`,
  sample`user ${email('first.last@sub.domain.example.travel')} logged in`,
  // card numbers (network test numbers: all pass Luhn)
  sample`Visa ${card('4111111111111111')} exp 12/27`,
  sample`card: ${card('4111 1111 1111 1111')}`,
  sample`card ${card('4012-8888-8888-1881')} declined`,
  sample`Mastercard ${card('5555555555554444')}`,
  sample`MC ${card('5105 1051 0510 5100')} ok`,
  sample`2-series ${card('2223003122003222')}`,
  sample`Amex ${card('3782 822463 10005')} and ${card('371449635398431')}`,
  sample`Discover ${card('6011111111111117')}, ${card('6011 0009 9013 9424')}`,
  sample`Diners ${card('30569309025904')} / ${card('3852 000002 3237')}`,
  sample`JCB ${card('3530111333300000')} and ${card('3566 0020 2036 0505')}`,
  sample`UnionPay ${card('6200000000000005')}`,
  sample`Visa 13 ${card('4222222222222')}`,
  sample`{"pan":"${card('4242424242424242')}","cvc":"123"}`,
  sample`order 2024 ${card('4111 1111 1111 1111')} 123`,
  sample`paid with ${card('5555-5555-5555-4444')}.`,
  // phone numbers
  sample`Call ${phone('+1 (415) 555-2671')} today`,
  sample`tel: ${phone('+14155552671')}`,
  sample`mobile ${phone('+44 20 7946 0958')}`,
  sample`office ${phone('+33 1 23 45 67 89')}`,
  sample`Berlin ${phone('+49 30 901820')}, Munich ${phone('+49 (0)89 1234567')}`,
  sample`US ${phone('(415) 555-2671')} or ${phone('415-555-2671')} or ${phone('415.555.2671')}`,
  sample`UK ${phone('020 7946 0958')} or ${phone('0161 496 0000')} or ${phone('07700 900123')}`,
  sample`France ${phone('01 23 45 67 89')} or ${phone('06.12.34.56.78')}`,
  sample`{"phone":"${phone('+61 2 9876 5432')}"}`,
  sample`whatsapp ${phone('+5511987654321')}`,
  // IBANs (registry examples: all pass mod-97)
  sample`IBAN ${iban('DE89 3704 0044 0532 0130 00')}`,
  sample`pay to ${iban('GB82WEST12345698765432')} by Friday`,
  sample`${iban('FR1420041010050500013M02606')} (France)`,
  sample`ES: ${iban('ES9121000418450200051332')}`,
  sample`IT ${iban('IT60X0542811101000000123456')}`,
  sample`NL ${iban('NL91 ABNA 0417 1643 00')}`,
  sample`BE ${iban('BE68539007547034')}, CH ${iban('CH9300762011623852957')}`,
  sample`AT ${iban('AT611904300234573201')}; PL ${iban('PL61109010140000071219812874')}`,
  sample`NO ${iban('NO9386011117947')} SE ${iban('SE4550000000058398257466')}`,
  // IPv4 addresses
  sample`client ${ip('203.0.113.42')} connected`,
  sample`upstream ${ip('10.12.0.7')}:8080 timed out`,
  sample`allow ${ip('192.168.1.100')}/24`,
  sample`X-Forwarded-For: ${ip('198.51.100.23')}, ${ip('172.16.254.1')}`,
  // several kinds in one text
  sample`user ${email('kim@example.com')} from ${ip('203.0.113.9')} paid ${card('4111111111111111')} and called ${phone('+1 415 555 2671')}`,
];

export const lookAlikes: readonly LookAlike[] = [
  // order and reference numbers
  { kind: 'order number', text: 'Order #4111111111111112 shipped' },
  { kind: 'order number', text: 'ORD-2024-000123 is ready' },
  { kind: 'order number', text: 'order_id=10023456789' },
  { kind: 'order number', text: 'Invoice INV-000045678, ticket 4155552671' },
  { kind: 'order number', text: 'ref ord_4111111111111111' },
  { kind: 'order number', text: 'Tracking 1Z999AA10123456784' },
  { kind: 'order number', text: 'SKU 5500-0000-0000-0001 out of stock' },
  // 16-digit numbers that fail Luhn, and long digit runs
  { kind: 'non-Luhn number', text: '1234567812345678' },
  { kind: 'non-Luhn number', text: 'card 4111 1111 1111 1112' },
  { kind: 'non-Luhn number', text: '5555555555554445' },
  { kind: 'non-Luhn number', text: 'account 6011111111111118' },
  { kind: 'long digit run', text: 'id 41111111111111110000 (20 digits)' },
  { kind: 'long digit run', text: '9876543210987654 starts with no card network' },
  // timestamps and dates
  { kind: 'timestamp', text: 'at 1767225600000 ms' },
  { kind: 'timestamp', text: 'epoch 1767225600' },
  { kind: 'timestamp', text: '2026-01-15T10:30:00Z' },
  { kind: 'timestamp', text: '2026-01-15 10:30:00.123+01:00' },
  { kind: 'timestamp', text: 'Mon, 15 Jan 2026 10:30:00 GMT' },
  { kind: 'timestamp', text: 'took 00:01:23.456' },
  { kind: 'ISO date', text: '2026-01-15' },
  { kind: 'ISO date', text: 'week 2026-W03, ordinal 2026-015, basic 20260115' },
  { kind: 'date', text: '15.01.2026 and 01/15/2026 and 2026.01.15' },
  { kind: 'time range', text: 'open 10:00-12:00 and 14:00-18:00' },
  // version strings
  { kind: 'version', text: 'v1.2.3' },
  { kind: 'version', text: 'version 1.2.3.4' },
  { kind: 'version', text: 'node 20.19.0, npm 10.8.2' },
  { kind: 'version', text: 'Chrome/120.0.6099.109 Safari/537.36' },
  { kind: 'version', text: 'Windows 10.0.19041.1' },
  { kind: 'version', text: '2.0.0-beta.1+build.20260115' },
  { kind: 'version', text: '@types/node@20.19.25' },
  { kind: 'version', text: 'SNMP OID 1.3.6.1.4.1.2021' },
  // identifiers and hashes
  { kind: 'UUID', text: '550e8400-e29b-41d4-a716-446655440000' },
  { kind: 'UUID', text: 'request 123e4567-e89b-12d3-a456-426614174000 failed' },
  { kind: 'UUID', text: '00000000-0000-0000-0000-000000000000' },
  { kind: 'UUID', text: '41111111-1111-1111-1111-111111111111' },
  { kind: 'hex hash', text: 'sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  { kind: 'hex hash', text: 'sha1 da39a3ee5e6b4b0d3255bfef95601890afd80709' },
  { kind: 'hex hash', text: 'md5 d41d8cd98f00b204e9800998ecf8427e' },
  { kind: 'hex hash', text: 'commit 8de188d (HEAD -> main)' },
  { kind: 'hex hash', text: 'image sha256:4111111111111111111111111111111111111111111111111111111111111111' },
  { kind: 'ULID', text: 'ses_01jh3k5m7n9p1q3r5s7t9v1w3x' },
  { kind: 'base64', text: 'SGVsbG8gV29ybGQ=' },
  { kind: 'base64 image', text: 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' },
  { kind: 'base64 text', text: 'payload eyJldmVudCI6Im9yZGVyLnBhaWQiLCJpZCI6NDJ9 received' },
  { kind: 'git SHA', text: 'merge 3f786850e387550fdab836ed7e6dc881de23001b into main' },
  // prose and code about secrets
  { kind: 'prose', text: 'Your password must be at least 8 characters long.' },
  { kind: 'prose', text: 'Reset your password: it takes a minute. Forgot password? Click here.' },
  { kind: 'prose', text: 'The secret to a good API key policy is rotation; token = the one you chose.' },
  { kind: 'code', text: 'password: string; token?: string; apiKey: ApiKey' },
  { kind: 'code', text: 'const token = getToken(); password = config.password' },
  { kind: 'code', text: 'max_tokens=4096, token_count: 17, passenger_count=3, bypass=true' },
  { kind: 'placeholder', text: 'password=******** and api_key=<your-key> and token=${TOKEN}' },
  { kind: 'environment', text: 'PWD=/home/app\nHOME=/root' },
  { kind: 'SSN-shaped', text: 'ORD-219-09-9999 and 000-12-3456 and 900-12-3456' },
  { kind: 'Stripe publishable key', text: 'pk_live_51HxAbCdEfGhIjKlMnOpQrStUv is public' },
  // words that start like credentials
  { kind: 'key-like word', text: 'sk-learn is a library; task-list-item; risk-assessment-matrix-2026' },
  { kind: 'key-like word', text: 'sk-this-is-not-a-real-api-key-placeholder' },
  { kind: 'key-like word', text: 'AKIA1234 is too short; AKIAIOSFODNN7 too' },
  { kind: 'key-like word', text: 'ghp_short and github_pat_ alone' },
  { kind: 'key-like word', text: 'xoxb- and xoxp-123' },
  { kind: 'key-like word', text: 'Authorization: Bearer <token>; bearer authentication-required' },
  { kind: 'key-like word', text: 'eyJhbGciOiJIUzI1NiJ9 alone is a JWT header, not a token' },
  { kind: 'key-like word', text: '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----' },
  { kind: 'key-like word', text: '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----' },
  { kind: 'URL', text: 'https://example.com:8443/path?user=jane&id=4' },
  { kind: 'URL', text: 'ssh://git@github.com/acme/app.git has no password' },
  // not email addresses
  { kind: 'asset name', text: 'icon@2x.png and logo@3x.webp' },
  { kind: 'not an email', text: 'user@localhost and admin@ and @mention' },
  { kind: 'not an email', text: 'npm install lodash@4.17.21' },
  // not IBANs
  { kind: 'IBAN with a bad checksum', text: 'DE00370400440532013000' },
  { kind: 'IBAN with a bad checksum', text: 'GB00 WEST 1234 5698 7654 32' },
  { kind: 'IBAN shape, unknown country', text: 'ZZ12 3456 7890 1234 5678' },
  { kind: 'upper-case code', text: 'ABCD1234EFGH5678IJKL and US12345678901234' },
  // not phone numbers
  { kind: 'table of numbers', text: 'sizes: 200 300 4000; 512 1024 2048 4096' },
  { kind: 'number', text: 'price 1,234,567.89 and ratio 0.4111111111111111' },
  { kind: 'ISBN', text: 'ISBN 978-3-16-148410-0' },
  { kind: 'time zone', text: 'UTC+01:00, GMT+5, +05:30' },
  { kind: 'score', text: 'votes +1 +12 +123' },
  { kind: 'diff stat', text: '3 files changed, +1234 -567' },
  { kind: 'HTTP', text: 'HTTP/1.1 200 OK; TLS 1.3; x86_64' },
  { kind: 'process', text: 'Port 8080, PID 12345, 99.9% uptime, 4 CPUs' },
  // not IP addresses
  { kind: 'loopback', text: 'listening on 127.0.0.1:3000' },
  { kind: 'unspecified address', text: 'bind 0.0.0.0' },
  { kind: 'netmask', text: 'netmask 255.255.255.0 and 255.255.0.0' },
  { kind: 'out-of-range dotted quad', text: '300.1.2.3 and 192.168.1.256' },
  { kind: 'dotted version', text: '10.0.0.1.5 build' },
];
