// Why a server will not open a chain for a subscriber: sent as refused{code, message, home?}.
import { AteError } from '../core/errors.js';
import type { RefusedCode } from '../core/mesh/wire/index.js';

export class ChainRefusal extends AteError {
  override readonly code = 'CHAIN_REFUSED';
  constructor(
    readonly refusal: RefusedCode,
    message: string,
    readonly home?: string,
  ) {
    super(message);
  }
}
