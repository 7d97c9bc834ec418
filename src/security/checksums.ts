/**
 * Check digits that separate real card numbers and IBANs from look-alikes (order numbers, timestamps,
 * reference codes). A pattern alone would redact any 16-digit number; with the checksum, only one
 * random number in ten (Luhn) or in ninety-seven (IBAN) passes, and the issuer and length checks cut that further.
 */

/** The Luhn check of ISO/IEC 7812: doubling every second digit from the right, the sum is a multiple of 10. */
export function passesLuhn(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/**
 * Whether the leading digits belong to a card network that issues numbers of this length. Timestamps
 * in milliseconds (13 digits starting with 1) and most internal identifiers fail here before Luhn.
 */
export function isCardIssuerNumber(digits: string): boolean {
  const length = digits.length;
  const two = Number(digits.slice(0, 2));
  const three = Number(digits.slice(0, 3));
  const four = Number(digits.slice(0, 4));
  if (digits.startsWith('4')) return length === 13 || length === 16 || length === 19; // Visa
  if (two === 34 || two === 37) return length === 15; // American Express
  if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) return length === 16; // Mastercard
  if (four >= 3528 && four <= 3589) return length >= 16 && length <= 19; // JCB
  if (two === 36 || two === 38 || two === 39 || (three >= 300 && three <= 305)) return length >= 14 && length <= 19; // Diners Club
  if (digits.startsWith('6')) return length >= 16 && length <= 19; // Discover, UnionPay, Maestro 6…
  if (two === 50 || (two >= 56 && two <= 58)) return length >= 13 && length <= 19; // Maestro
  return false;
}

/** IBAN length by country, from the SWIFT IBAN registry: a code not listed here is not an IBAN. */
const ibanLengths: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30,
  KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27,
  MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33,
  SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};

export function ibanLength(countryCode: string): number | undefined {
  return ibanLengths[countryCode];
}

/** ISO 13616: move the first four characters to the end, read letters as 10–35, and the number is 1 modulo 97. */
export function passesIbanChecksum(compactIban: string): boolean {
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(compactIban)) return false;
  if (ibanLength(compactIban.slice(0, 2)) !== compactIban.length) return false;
  const rearranged = compactIban.slice(4) + compactIban.slice(0, 4);
  let remainder = 0;
  for (const character of rearranged) {
    const code = character.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = (value >= 10 ? remainder * 100 + value : remainder * 10 + value) % 97;
  }
  return remainder === 1;
}
