// Short receipt codes (spec/receipt-code.md): the first 75 bits of a
// tracking code in Crockford base32, 15 symbols and a Luhn mod 32 check
// symbol, written in four groups of four: "7KQ2-M9XD-4RTB-HW3F".
export const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const DATA = 15;

/** Luhn mod 32 check symbol of `digits` (each 0..31). */
function luhnCheck(digits: number[]): number {
  let factor = 2;
  let sum = 0;
  for (let i = digits.length - 1; i >= 0; i--) {
    let addend = factor * digits[i];
    factor = factor === 2 ? 1 : 2;
    addend = Math.floor(addend / 32) + (addend % 32);
    sum += addend;
  }
  return (32 - (sum % 32)) % 32;
}

/** The 15 data symbols of a tracking code (64 hex digits). */
function symbols(trackingHex: string): number[] {
  let bits = '';
  for (const c of trackingHex.slice(0, 20)) bits += parseInt(c, 16).toString(2).padStart(4, '0');
  return Array.from({ length: DATA }, (_, i) => parseInt(bits.slice(5 * i, 5 * i + 5), 2));
}

/** The short code of a tracking code: 16 symbols in four groups of four, joined by "-" (receipt-code.md §C2). */
export function shortCode(trackingHex: string): string {
  const d = symbols(trackingHex.toLowerCase());
  const s = [...d, luhnCheck(d)].map((x) => ALPHABET[x]).join('');
  return s.match(/.{4}/g)!.join('-');
}

/** The 75-bit prefix of a short code as 19 hex digits' worth of bits, or null if malformed or the check fails. */
export function parseShortCode(text: string): { prefixBits: string; code: string } | null {
  const norm = text.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (norm.length !== DATA + 1) return null;
  const d: number[] = [];
  for (const ch of norm) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return null;
    d.push(v);
  }
  if (luhnCheck(d.slice(0, DATA)) !== d[DATA]) return null;
  const prefixBits = d.slice(0, DATA).map((x) => x.toString(2).padStart(5, '0')).join('');
  return { prefixBits, code: norm.match(/.{4}/g)!.join('-') };
}

/** Whether a tracking code (hex) starts with these 75 bits. */
export function matchesPrefix(trackingHex: string, prefixBits: string): boolean {
  let bits = '';
  for (const c of trackingHex.slice(0, 19)) bits += parseInt(c, 16).toString(2).padStart(4, '0');
  return bits.slice(0, prefixBits.length) === prefixBits;
}
