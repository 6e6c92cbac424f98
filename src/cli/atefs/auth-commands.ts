// The yargs definitions of the user, token and group commands (and the create-user and
// create-token aliases of SEED.md). Light on purpose: the handlers load auth-actions.ts.
import type { Argv, CommandModule } from 'yargs';
import { authOptions } from './auth-options.js';

type SetCode = (code: number) => void;
type Actions = typeof import('./auth-actions.js');

const actions = (): Promise<Actions> => import('./auth-actions.js');

const ROLES = 'owner, delegate, contributor, observer or other-<name>';

const TOKEN_EPILOGUE = [
  'A token is your session (your keys, and the keys of the groups you gathered) with an expiry, signed by the auth server; ' +
    'atefs and atedb refuse one that expired, was altered, or comes from another auth server. Anyone holding it acts as you: ' +
    'keep token files private (--out writes them with mode 0600).',
  'Scripted use: the password comes from ATE_PASSWORD or the first line of standard input, the authenticator code from --code, ' +
    'ATE_CODE or the next line; on a terminal atefs asks for what is missing.',
].join('\n');

function credentialArgs(y: Argv, withCode: boolean): Argv {
  let out = y
    .positional('email', { type: 'string', describe: 'your email' })
    .positional('password', { type: 'string', describe: 'your password (safer: ATE_PASSWORD=..., standard input or the prompt)' });
  if (withCode) out = out.positional('code', { type: 'string', describe: 'the code your authenticator app shows' });
  return out.options(authOptions);
}

const tokenOut = {
  out: { alias: 'o', type: 'string', describe: 'write the token to this file (mode 0600) instead of standard output' },
} as const;
const validFor = {
  'valid-for': { type: 'string', describe: 'how long the token is valid: 12h, 30d, 365d (default 30d)' },
} as const;

function run(setCode: SetCode, fn: (a: Actions, argv: Record<string, unknown>) => Promise<number>) {
  return async (argv: Record<string, unknown>): Promise<void> => setCode(await fn(await actions(), argv));
}

export function userCommand(setCode: SetCode): CommandModule {
  return {
    command: 'user <command>',
    describe: 'create a user on the auth server, or show yours',
    builder: (y) =>
      y
        .command(
          'create [email] [password]',
          'create a user: asks for the password twice, prints the authenticator QR code',
          (yy) => credentialArgs(yy, false),
          run(setCode, (a, argv) => a.userCreate(argv as never)),
        )
        .command('details', "show the user of your token: email, uid, public keys", (yy) => yy.options(authOptions), run(setCode, (a, argv) => a.userDetails(argv as never)))
        .demandCommand(1, 'name a user command: create or details'),
    handler: () => undefined,
  };
}

export function createUserCommand(setCode: SetCode): CommandModule {
  return {
    command: 'create-user [email] [password]',
    describe: 'the same as atefs user create',
    builder: (y) => credentialArgs(y, false),
    handler: run(setCode, (a, argv) => a.userCreate(argv as never)),
  };
}

export function tokenCommand(setCode: SetCode): CommandModule {
  return {
    command: 'token <command>',
    describe: 'log in for a token, elevate it with sudo, add group keys, or view one',
    builder: (y) =>
      y
        .command(
          'generate [email] [password]',
          'log in and print a token (or write it with --out)',
          (yy) => credentialArgs(yy, false).options({ ...tokenOut, ...validFor }).epilogue(TOKEN_EPILOGUE),
          run(setCode, (a, argv) => a.tokenGenerate(argv as never, false)),
        )
        .command(
          'sudo [email] [password] [code]',
          'log in with password and authenticator code for a token that can own groups',
          (yy) =>
            credentialArgs(yy, true)
              .options({ ...tokenOut, ...validFor, code: { type: 'string', describe: 'the code your authenticator app shows' } })
              .epilogue(TOKEN_EPILOGUE),
          run(setCode, (a, argv) => a.tokenGenerate(argv as never, true)),
        )
        .command(
          'gather <group>',
          "a token with the group's keys added (the roles your token opens)",
          (yy) => yy.positional('group', { type: 'string', describe: 'the group' }).options({ ...authOptions, ...tokenOut }),
          run(setCode, (a, argv) => a.tokenGather(argv as never)),
        )
        .command('view', 'show what a token holds, once the auth server vouches for it', (yy) => yy.options(authOptions), run(setCode, (a, argv) => a.tokenView(argv as never)))
        .demandCommand(1, 'name a token command: generate, sudo, gather or view'),
    handler: () => undefined,
  };
}

export function createTokenCommand(setCode: SetCode): CommandModule {
  return {
    command: 'create-token [email] [password]',
    describe: 'the same as atefs token generate',
    builder: (y) => credentialArgs(y, false).options({ ...tokenOut, ...validFor }).epilogue(TOKEN_EPILOGUE),
    handler: run(setCode, (a, argv) => a.tokenGenerate(argv as never, false)),
  };
}

export function groupCommand(setCode: SetCode): CommandModule {
  const member = (y: Argv): Argv =>
    y
      .positional('group', { type: 'string', describe: 'the group' })
      .positional('role', { type: 'string', describe: ROLES })
      .positional('email', { type: 'string', describe: "the member's email" })
      .options(authOptions);
  return {
    command: 'group <command>',
    describe: 'create groups and manage their members (roles: owner, delegate, contributor, observer, other-<name>)',
    builder: (y) =>
      y
        .command(
          'create <group>',
          'create a group owned by you (needs a sudo token)',
          (yy) => yy.positional('group', { type: 'string', describe: "the group's name; its chain is tcp://<atedb>/<group>" }).options(authOptions),
          run(setCode, (a, argv) => a.groupCreate(argv as never)),
        )
        .command('add-user <group> <role> <email>', `give a user a role (${ROLES})`, member, run(setCode, (a, argv) => a.groupChange(argv as never, true)))
        .command(
          'remove-user <group> <role> <email>',
          'take a role from a user; the keys of that role (and the roles below it) are replaced',
          member,
          run(setCode, (a, argv) => a.groupChange(argv as never, false)),
        )
        .command(
          'details <group>',
          "show a group's roles and public keys (and members, to its owners and delegates)",
          (yy) => yy.positional('group', { type: 'string', describe: 'the group' }).options(authOptions),
          run(setCode, (a, argv) => a.groupDetails(argv as never)),
        )
        .demandCommand(1, 'name a group command: create, add-user, remove-user or details'),
    handler: () => undefined,
  };
}
