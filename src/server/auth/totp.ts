// Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP, HMAC-SHA1), the second factor of
// sudo: what Google Authenticator and its kin compute from an otpauth:// URL.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { randomBytes } from '../../core/crypto/index.js';

export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
/** 160 bits, the size RFC 4226 recommends for HMAC-SHA1. */
export const TOTP_SECRET_BYTES = 20;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export const newTotpSecret = (): Uint8Array => randomBytes(TOTP_SECRET_BYTES);

/** RFC 4648 base32 without padding (what otpauth URLs carry). */
export function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** HOTP (RFC 4226): the `digits`-digit code of a counter. */
export function hotp(secret: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The time step of a moment (ms since the epoch). */
export const totpStep = (timeMs: number, periodS = TOTP_PERIOD_S): number => Math.floor(timeMs / 1000 / periodS);

/** TOTP (RFC 6238): the code at a moment. */
export const totp = (secret: Uint8Array, timeMs: number, digits = TOTP_DIGITS): string => hotp(secret, totpStep(timeMs), digits);

/**
 * The time step whose code `code` is, within `window` steps either side of now (clocks drift and
 * people type slowly), or undefined. The caller refuses a step it accepted before (replay).
 */
export function matchTotp(secret: Uint8Array, code: string, timeMs: number, window = 1): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const now = totpStep(timeMs);
  let found: number | undefined;
  for (let step = now - window; step <= now + window; step++) {
    // Every candidate is compared (no early exit), in constant time.
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(code)) && found === undefined) found = step;
  }
  return found;
}

/** The URL authenticator apps read (the QR code holds it). */
export function otpauthUrl(issuer: string, account: string, secret: Uint8Array): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const params = new URLSearchParams({ secret: base32(secret), issuer, algorithm: 'SHA1', digits: String(TOTP_DIGITS), period: String(TOTP_PERIOD_S) });
  return `otpauth://totp/${label}?${params.toString()}`;
}
