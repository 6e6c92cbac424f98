// What the user, token and group commands do: gather credentials or a token, ask the auth
// server, print the outcome. Tokens go to standard output (or --out); messages to stderr.
import { derivePasswordKey, fingerprint, keyId, decodeKey } from '../../core/crypto/index.js';
import { ConfigError } from '../../core/errors.js';
import { parseDuration } from '../../core/chain/config.js';
import { type TokenClaims, issuerFingerprint } from '../../core/session/token.js';
import { emailProblem, groupProblem, normalizeEmail } from '../../server/auth/policy.js';
import { CliError, UsageError } from '../run.js';
import { AuthClient } from './auth-client.js';
import { type AuthArgv, authUrlOf, wireEncryptionOf } from './auth-options.js';
import { type Credentials, credentials } from './credentials.js';
import { canPrompt } from './prompt.js';
import { type GivenToken, givenToken, verifiedToken, writeTokenFile } from './token-source.js';

export interface CredentialArgv extends AuthArgv {
  email?: string;
  password?: string;
  code?: string;
  out?: string;
  validFor?: string;
}

export interface GroupArgv extends AuthArgv {
  group: string;
  role?: string;
  email?: string;
  out?: string;
}

async function withClient<T>(a: AuthArgv, command: string, fn: (client: AuthClient) => Promise<T>): Promise<T> {
  const client = new AuthClient(authUrlOf(a, command), wireEncryptionOf(a));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

function checkEmailArg(email: string | undefined): string | undefined {
  if (email === undefined) return undefined;
  const problem = emailProblem(normalizeEmail(email));
  if (problem) throw new UsageError(problem);
  return normalizeEmail(email);
}

function validForOf(a: CredentialArgv): number | undefined {
  if (a.validFor === undefined) return undefined;
  try {
    const ms = parseDuration(a.validFor);
    if (!(ms >= 60_000)) throw new ConfigError('at least one minute');
    return ms;
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`--valid-for "${a.validFor}" is not a validity; write it like 12h, 30d or 365d (at least 1m)`);
    throw err;
  }
}

/** Logs in: the password's KDF on this machine (salt from the server), then the server's check. */
async function login(client: AuthClient, c: Credentials, validForMs?: number): Promise<string> {
  const { salt, kdf } = await client.salt(c.email);
  const secret = await derivePasswordKey(c.password, salt, kdf);
  const r = await client.login({ email: c.email, secret, ...(c.code !== undefined ? { code: c.code } : {}), ...(validForMs !== undefined ? { validForMs } : {}) });
  return r.token;
}

const until = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

async function emitToken(token: string, claims: TokenClaims, out: string | undefined, what: string): Promise<void> {
  if (out !== undefined) {
    await writeTokenFile(out, token);
    console.error(`${what} written to ${out} (valid until ${until(claims.expiresAt)})`);
  } else {
    process.stdout.write(`${token}\n`);
    console.error(`${what} (valid until ${until(claims.expiresAt)})`);
  }
}

/**
 * The token a command acts with: the one given (checked against the auth server), else a login
 * at the prompt on a terminal.
 */
async function tokenFor(client: AuthClient, a: AuthArgv, command: string, sudo: boolean): Promise<{ token: GivenToken; claims: TokenClaims }> {
  const given = await givenToken(a);
  if (given) return { token: given, claims: await verifiedToken(client, given) };
  if (!canPrompt()) {
    throw new UsageError(`atefs ${command} needs a token: --token-path <file>, --token or ATE_TOKEN (atefs token ${sudo ? 'sudo' : 'generate'} --out <file> makes one)`);
  }
  const text = await login(client, await credentials({ command, needCode: sudo }));
  const token = { text: text as GivenToken['text'], from: 'the login' };
  return { token, claims: await verifiedToken(client, token) };
}

export async function userCreate(a: CredentialArgv): Promise<number> {
  return withClient(a, 'user create', async (client) => {
    const c = await credentials({ command: 'user create', email: checkEmailArg(a.email), password: a.password, newPassword: true });
    const { DEFAULT_KDF, newSalt } = await import('../../core/crypto/index.js');
    const salt = newSalt();
    const secret = await derivePasswordKey(c.password, salt, DEFAULT_KDF);
    const r = await client.createUser({ email: c.email, secret, salt, kdf: DEFAULT_KDF });
    const { qrText } = await import('./qr.js');
    const secretText = new URL(r.otpauth).searchParams.get('secret');
    console.log(`user ${normalizeEmail(c.email)} created (uid ${r.uid}) on ${client.url}`);
    console.log('Scan this code with an authenticator app (Google Authenticator, Authy, ...); atefs token sudo asks for its codes.');
    console.log('Keep it safe: it is shown once.');
    console.log(qrText(r.otpauth));
    console.log(`or enter: ${r.otpauth}`);
    console.log(`secret: ${secretText}`);
    return 0;
  });
}

export async function userDetails(a: AuthArgv): Promise<number> {
  return withClient(a, 'user details', async (client) => {
    const { claims } = await tokenFor(client, a, 'user details', false);
    const email = claims.session.user.identity;
    if (email === undefined) throw new CliError('the token names no user; get a new one with atefs token generate');
    const advert = await client.advert(email);
    console.log(`email:      ${email}`);
    console.log(`uid:        ${advert.uid}`);
    console.log(`sign key:   ${fingerprint(keyId(decodeKey(advert.signKey)))}`);
    console.log(`read key:   ${fingerprint(keyId(decodeKey(advert.readKey)))}`);
    console.log(`sudo key:   ${fingerprint(keyId(decodeKey(advert.sudoSignKey)))}`);
    console.log(`auth:       ${client.url}`);
    return 0;
  });
}

export async function tokenGenerate(a: CredentialArgv, sudo: boolean): Promise<number> {
  const command = sudo ? 'token sudo' : 'token generate';
  const validForMs = validForOf(a);
  return withClient(a, command, async (client) => {
    const c = await credentials({ command, email: checkEmailArg(a.email), password: a.password, code: a.code, needCode: sudo });
    const token = await login(client, c, validForMs);
    const claims = await verifiedToken(client, { text: token as GivenToken['text'], from: 'the new token' });
    await emitToken(token, claims, a.out, `${sudo ? 'sudo token' : 'token'} for ${c.email}`);
    return 0;
  });
}

export async function tokenGather(a: GroupArgv): Promise<number> {
  checkGroup(a.group);
  return withClient(a, 'token gather', async (client) => {
    const { token } = await tokenFor(client, a, 'token gather', false);
    const r = await client.gather(token.text, a.group);
    const claims = await verifiedToken(client, { text: r.token as GivenToken['text'], from: 'the gathered token' });
    await emitToken(r.token, claims, a.out, `token with roles ${r.roles.join(', ')} of group ${a.group.replace(/^\//, '')}`);
    return 0;
  });
}

export async function tokenView(a: AuthArgv): Promise<number> {
  return withClient(a, 'token view', async (client) => {
    const given = await givenToken(a);
    if (!given) throw new UsageError('atefs token view shows a token: give --token-path <file>, --token or ATE_TOKEN');
    const claims = await verifiedToken(client, given);
    const s = claims.session;
    console.log(`user:       ${s.user.identity ?? '(none)'}${s.user.uid !== undefined ? ` (uid ${s.user.uid})` : ''}`);
    console.log(`sudo:       ${s.sudo ? 'yes' : 'no'}`);
    for (const g of s.groups) {
      console.log(`group:      ${g.name}${g.roles[0]?.gid !== undefined ? ` (gid ${g.roles[0].gid})` : ''}: ${g.roles.map((r) => r.purpose).join(', ')}`);
    }
    console.log(`issued:     ${until(claims.issuedAt)}`);
    console.log(`expires:    ${until(claims.expiresAt)}`);
    console.log(`issuer:     ${issuerFingerprint(claims.issuer)} (verified: ${client.url})`);
    return 0;
  });
}

function checkGroup(group: string): void {
  const problem = groupProblem(group);
  if (problem) throw new UsageError(problem);
}

export async function groupCreate(a: GroupArgv): Promise<number> {
  checkGroup(a.group);
  return withClient(a, 'group create', async (client) => {
    const { token } = await tokenFor(client, a, 'group create', true);
    const r = await client.createGroup(token.text, a.group);
    console.log(`group ${r.group} created (gid ${r.gid}); you are its owner and delegate: atefs token gather ${r.group} adds its keys to your token`);
    return 0;
  });
}

export async function groupChange(a: GroupArgv, add: boolean): Promise<number> {
  checkGroup(a.group);
  const command = add ? 'group add-user' : 'group remove-user';
  const email = checkEmailArg(a.email)!;
  return withClient(a, command, async (client) => {
    const sudo = a.role === 'owner' || a.role === 'delegate';
    const { token } = await tokenFor(client, a, command, sudo);
    if (add) {
      await client.addUser(token.text, a.group, a.role!, email);
      console.log(`${email} is now a ${a.role} of group ${a.group.replace(/^\//, '')}; they get its keys with atefs token gather ${a.group.replace(/^\//, '')}`);
    } else {
      const r = await client.removeUser(token.text, a.group, a.role!, email);
      console.log(
        `${email} is no longer a ${a.role} of group ${a.group.replace(/^\//, '')}; new keys for ${r.rotated.join(', ')}: the other members gather the group again to get them`,
      );
    }
    return 0;
  });
}

export async function groupDetails(a: GroupArgv): Promise<number> {
  checkGroup(a.group);
  return withClient(a, 'group details', async (client) => {
    const given = await givenToken(a);
    if (given) await verifiedToken(client, given);
    const d = await client.details(a.group, given?.text);
    console.log(`group ${d.group} (gid ${d.gid}) on ${client.url}`);
    for (const r of d.roles) {
      const members = r.members === undefined ? '' : `  members: ${r.members.length > 0 ? r.members.join(', ') : '(none)'}`;
      console.log(`  ${r.purpose.padEnd(12)} sign ${fingerprint(keyId(decodeKey(r.signKey)))}  read ${fingerprint(keyId(decodeKey(r.readKey)))}${members}`);
    }
    if (d.roles.every((r) => r.members === undefined)) console.log('  (members are shown to owners and delegates: give a token that gathered the group)');
    return 0;
  });
}
