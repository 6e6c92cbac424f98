// The built-in validators (tree authority, anti-replay, timestamps, the rubber stamp) and linters.
import { needsSignature } from '../event/metadata.js';
import { ABSTAIN, ALLOW, type IngestEvent, type Linter, type ValidationContext, type Validator, deny } from '../chain/plugins.js';
import { identity } from '../session/session.js';
import { TrustError } from '../errors.js';
import { allows, writeAuthorityFor } from './authority.js';

/** Allows everything; the only validator of the barebone profile. */
export const rubberStamp: Validator = { name: 'rubber-stamp', validate: () => ALLOW };

/** Writes must be signed by a key the existing tree authority accepts. */
export const treeAuthority: Validator = {
  name: 'tree-authority',
  validate(event: IngestEvent, ctx: ValidationContext) {
    const meta = event.meta;
    if (!needsSignature(meta)) return ALLOW;
    let write;
    try {
      write = writeAuthorityFor(meta, ctx.authority, ctx.rootWrite);
    } catch (err) {
      if (err instanceof TrustError) return deny(err.message, 'trust');
      throw err;
    }
    if (write.kind === 'everyone') return ALLOW;
    if (write.kind === 'nobody') return deny(`object ${meta.key ?? meta.tombstone} may not be written by anyone`, 'trust');
    if (ctx.trustedPeer) return ALLOW;
    const signers = ctx.signersOf(event);
    if (signers.size === 0) return deny(`event ${event.id.slice(0, 16)} is not signed`, 'trust');
    if (!allows(write, signers)) return deny(`event ${event.id.slice(0, 16)} is signed by a key without write authority`, 'trust');
    return ALLOW;
  },
};

/** An event id seen before is a replay. */
export const antiReplay: Validator = {
  name: 'anti-replay',
  validate(event, ctx) {
    return ctx.view.ids.indexOf(event.idBytes) === -1 ? ABSTAIN : deny(`event ${event.id.slice(0, 16)} was already applied (replay)`, 'replay');
  },
};

/** Events that change objects need a timestamp, and it may not lie in the future beyond the tolerance. */
export function timestampEnforcer(toleranceMs: number): Validator {
  return {
    name: 'timestamp',
    validate(event, ctx) {
      const meta = event.meta;
      if (!needsSignature(meta)) return ABSTAIN;
      if (meta.timestamp === undefined) return deny(`event ${event.id.slice(0, 16)} has no timestamp`, 'time');
      if (ctx.origin !== 'replay' && meta.timestamp > ctx.now + toleranceMs) {
        return deny(`event ${event.id.slice(0, 16)} is timestamped ${meta.timestamp - ctx.now} ms in the future (tolerance ${toleranceMs} ms); check the clock`, 'time');
      }
      return ABSTAIN;
    },
  };
}

/** Stamps events with the identity of the session that writes them (the reference's author linter). */
export const authorLinter: Linter = {
  name: 'author',
  lint: (_meta, ctx) => {
    const who = identity(ctx.session);
    return who === undefined ? {} : { author: who };
  },
};
