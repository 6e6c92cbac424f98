// Which chains atedb hosts, and whose keys are their roots (the reference's open flow):
// personal chains /<domain>/<user>/<db> belong to user@domain, group chains /<group> to the
// group's delegate role. Anything else is refused with a message that shows both forms.
import { type ChainKey, chainKey } from '../core/event/ids.js';
import { ConfigError } from '../core/errors.js';
import { ChainRefusal } from './refusal.js';

export type ChainKind =
  | { readonly kind: 'personal'; readonly key: ChainKey; readonly email: string; readonly db: string }
  | { readonly kind: 'group'; readonly key: ChainKey; readonly group: string };

const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
const USER = /^[A-Za-z0-9._+-]+$/;
const NAME = /^[A-Za-z0-9_-]+$/;

const FORMS = 'use /<domain>/<user>/<db> for a personal chain (for example /example.com/joe/notes) or /<group> for a group chain (for example /engineering)';

/** What kind of chain a name is; ChainRefusal('bad-request') for a name atedb does not host. */
export function classifyChain(name: string): ChainKind {
  if (name.includes('..') || name.includes('~')) throw new ChainRefusal('bad-request', `chain "${name.slice(0, 200)}" is refused: '..' and '~' are not allowed; ${FORMS}`);
  let key: ChainKey;
  try {
    key = chainKey(name);
  } catch (err) {
    if (err instanceof ConfigError) throw new ChainRefusal('bad-request', `"${name.slice(0, 200)}" is not a chain name this server hosts; ${FORMS}`);
    throw err;
  }
  const parts = key.slice(1).split('/');
  if (parts.length === 3 && DOMAIN.test(parts[0]!) && USER.test(parts[1]!) && NAME.test(parts[2]!)) {
    return { kind: 'personal', key, email: `${parts[1]}@${parts[0]}`, db: parts[2]! };
  }
  if (parts.length === 1 && NAME.test(parts[0]!)) return { kind: 'group', key, group: parts[0]! };
  throw new ChainRefusal('bad-request', `"${key}" is not a chain name this server hosts; ${FORMS}`);
}
