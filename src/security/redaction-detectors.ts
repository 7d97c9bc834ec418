import { personalDataDetectors } from './redaction-personal-data.ts';
import type { PersonalDataType } from './redaction-personal-data.ts';
import type { Detector } from './redaction-scan.ts';
import { secretDetectors } from './redaction-secrets.ts';
import type { SecretType } from './redaction-secrets.ts';

/**
 * What redaction looks for: secrets first, then personal data, each list most specific first. Where two
 * detectors claim overlapping text the claims are joined (no part of either is left showing) and named after
 * the earlier detector, so a JWT after `Bearer` is reported as a JWT.
 */

export type { PersonalDataType, SecretType };
export type { SensitiveSpan } from './redaction-scan.ts';

export type RedactionType = SecretType | PersonalDataType;

export type RedactionDetector = Detector<RedactionType>;

export const redactionDetectors: readonly RedactionDetector[] = [...secretDetectors, ...personalDataDetectors];

export const redactionTypes: readonly RedactionType[] = redactionDetectors.map((detector) => detector.type);

export const secretTypes: readonly SecretType[] = secretDetectors.map((detector) => detector.type);

export const personalDataTypes: readonly PersonalDataType[] = personalDataDetectors.map((detector) => detector.type);

export function isPersonalDataType(type: string): type is PersonalDataType {
  return (personalDataTypes as readonly string[]).includes(type);
}
