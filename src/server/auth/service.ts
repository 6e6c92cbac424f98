// The auth server's request handlers by method name: each checks its body, then calls the
// users or groups module. The server registers them all; tests call them directly.
import { publicSignKey } from '../../core/crypto/index.js';
import { SALT_BYTES } from '../../core/crypto/kdf.js';
import type { AuthContext } from './context.js';
import { addUser, createGroup, details, gather, removeUser } from './groups.js';
import { encodePublicSignKey } from './model.js';
import { AUTH_METHODS, type AuthMethod, bodyOf, bytes, kdfParams, text } from './protocol.js';
import { SECRET_BYTES, advertOf, createUser, login, saltOf } from './users.js';

export type Handler = (body: unknown) => Promise<unknown>;

export function authHandlers(ctx: AuthContext): Record<AuthMethod, Handler> {
  const groupUser = (b: Record<string, unknown>) => ({ token: text(b, 'token'), group: text(b, 'group'), role: text(b, 'role'), email: text(b, 'email') });
  return {
    [AUTH_METHODS.identity]: async () => ({ signKey: encodePublicSignKey(publicSignKey(ctx.store.master.write)) }),
    [AUTH_METHODS.salt]: async (body) => saltOf(ctx, text(bodyOf(body), 'email')),
    [AUTH_METHODS.createUser]: async (body) => {
      const b = bodyOf(body);
      return createUser(ctx, {
        email: text(b, 'email'),
        secret: bytes(b, 'secret', SECRET_BYTES, SECRET_BYTES),
        salt: bytes(b, 'salt', SALT_BYTES, 64),
        kdf: kdfParams(b, 'kdf'),
      });
    },
    [AUTH_METHODS.login]: async (body) => {
      const b = bodyOf(body);
      const code = text(b, 'code', true);
      const validForMs = b['validForMs'];
      return login(ctx, {
        email: text(b, 'email'),
        secret: bytes(b, 'secret', SECRET_BYTES, SECRET_BYTES),
        ...(code !== undefined ? { code } : {}),
        ...(typeof validForMs === 'number' ? { validForMs } : {}),
      });
    },
    [AUTH_METHODS.advert]: async (body) => advertOf(ctx, text(bodyOf(body), 'email')),
    [AUTH_METHODS.gather]: async (body) => {
      const b = bodyOf(body);
      return gather(ctx, text(b, 'token'), text(b, 'group'));
    },
    [AUTH_METHODS.createGroup]: async (body) => {
      const b = bodyOf(body);
      return createGroup(ctx, text(b, 'token'), text(b, 'group'));
    },
    [AUTH_METHODS.addUser]: async (body) => addUser(ctx, groupUser(bodyOf(body))),
    [AUTH_METHODS.removeUser]: async (body) => removeUser(ctx, groupUser(bodyOf(body))),
    [AUTH_METHODS.details]: async (body) => {
      const b = bodyOf(body);
      const token = text(b, 'token', true);
      return details(ctx, text(b, 'group'), token);
    },
  };
}
