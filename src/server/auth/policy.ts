// What the auth server and the atefs commands accept as an email, a password and a group name.
// The server never sees a password (only its KDF output), so the password floor is checked by
// the client that reads it.

/** A practical email syntax: one '@', a local part without spaces, a dotted domain. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** The reason an email is refused, or undefined if it is acceptable. */
export function emailProblem(email: string): string | undefined {
  if (typeof email !== 'string' || email.length === 0) return 'the email is empty';
  if (email.length > 254) return 'the email is longer than 254 characters';
  if (!EMAIL.test(email) || email.startsWith('.') || email.includes('..') || email.split('@')[0]!.endsWith('.')) {
    return `"${email}" is not an email address (like joe@example.com)`;
  }
  return undefined;
}

/** Emails compare without case (the domain is case-insensitive and so, in practice, is the rest). */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export const MIN_PASSWORD_LENGTH = 10;
const MIN_DISTINCT_CHARACTERS = 6;
const COMMON = new Set(['password', 'password1', 'password12', 'password123', 'passw0rd', 'qwertyuiop', 'qwertyuiop1', 'iloveyou', 'letmein', 'welcome', 'administrator']);

/** The reason a new password is too weak, or undefined: a floor, not a strength meter. */
export function passwordProblem(password: string, email: string): string | undefined {
  const chars = Array.from(password);
  if (chars.length < MIN_PASSWORD_LENGTH) return `the password is too short: use at least ${MIN_PASSWORD_LENGTH} characters`;
  if (new Set(chars).size < MIN_DISTINCT_CHARACTERS) return `the password repeats too few characters: use at least ${MIN_DISTINCT_CHARACTERS} different ones`;
  const lower = password.toLowerCase();
  if (COMMON.has(lower) || /^(?:0?123456789|1234567890|0987654321)+0?$/.test(lower)) return 'the password is a commonly used one: choose another';
  const local = normalizeEmail(email).split('@')[0] ?? '';
  if (local.length >= 4 && lower.includes(local)) return 'the password contains your email name: choose another';
  return undefined;
}

/**
 * Group names: letters, digits, '_' and '-', as atedb accepts for the group's chain /<group> (a
 * leading '/' is dropped, so '/team' and 'team' are one group).
 */
const GROUP = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

export function normalizeGroup(name: string): string {
  return typeof name === 'string' && name.startsWith('/') ? name.slice(1) : name;
}

export function groupProblem(name: string): string | undefined {
  const n = normalizeGroup(name);
  if (!GROUP.test(n)) return `"${name}" is not a group name: use up to 64 letters, digits, '_' or '-'`;
  return undefined;
}
