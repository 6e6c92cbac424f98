// Services: a request stored in the chain with a type is taken exactly once by the service
// registered for that type, which stores its reply with Reply(request key).
import type { Chain } from '../chain/chain.js';
import type { PrimaryKey } from '../event/ids.js';
import { AteError, TimeoutError } from '../errors.js';
import type { AteSession } from '../session/session.js';
import { Dio, type StoreOptions } from './dio.js';

/** The reply a handler's thrown error becomes. */
interface ServiceFailure {
  readonly error: string;
}

const replyType = (requestType: string): string => `${requestType}/reply`;
const failureType = (requestType: string): string => `${requestType}/error`;

/** The service's handler threw; its message travels back to the caller. */
export class ServiceError extends AteError {
  override readonly code = 'SERVICE';
}

/** Registers a handler for requests of one type; returns a function that removes it. */
export function addService<Req, Res>(
  chain: Chain,
  session: AteSession,
  requestType: string,
  handler: (request: Req) => Res | Promise<Res>,
  replyOptions: Omit<StoreOptions, 'reply' | 'type'> = {},
): () => void {
  const handle = async (key: PrimaryKey): Promise<void> => {
    const dio = new Dio(chain, session, 'full');
    if (!dio.tryLock(key)) return;
    const request = await dio.load<Req>(key).catch(() => undefined);
    if (!request || !chain.view.objects.has(key)) return dio.cancel();
    dio.delete(key);
    await dio.commit();
    const reply = new Dio(chain, session, 'full');
    try {
      const result = await handler(request.value);
      reply.store(result, { ...replyOptions, type: replyType(requestType), reply: key });
    } catch (err) {
      const failure: ServiceFailure = { error: err instanceof Error ? err.message : String(err) };
      reply.store(failure, { ...replyOptions, type: failureType(requestType), reply: key });
    }
    await reply.commit();
  };
  return chain.onEvent((event) => {
    if (event.meta.type === requestType && event.meta.key !== undefined) {
      const key = event.meta.key;
      queueMicrotask(() => void handle(key).catch(() => undefined));
    }
  });
}

/** Stores a request and waits for its reply; TimeoutError after `timeoutMs`. */
export async function invoke<Req, Res>(
  chain: Chain,
  session: AteSession,
  requestType: string,
  request: Req,
  opts: Omit<StoreOptions, 'reply' | 'type'> & { timeoutMs?: number } = {},
): Promise<Res> {
  const { timeoutMs = 30_000, ...storeOpts } = opts;
  const dio = new Dio(chain, session, 'local');
  const dao = dio.make(request, { ...storeOpts, type: requestType });
  let stop = (): void => undefined;
  const replied = new Promise<PrimaryKey>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new TimeoutError(`no reply to ${requestType} within ${timeoutMs} ms; is a service for it running?`));
    }, timeoutMs);
    stop = chain.onEvent((event) => {
      if (event.meta.reply !== dao.key || event.meta.key === undefined) return;
      clearTimeout(timer);
      stop();
      resolve(event.meta.key);
    });
  });
  dao.commit();
  await dio.commit();
  const replyKey = await replied;
  const reply = await new Dio(chain, session).load<Res | ServiceFailure>(replyKey);
  if (reply.type === failureType(requestType)) throw new ServiceError(`${requestType} failed: ${(reply.value as ServiceFailure).error}`);
  return reply.value as Res;
}
