// The Quick Start of the original README, in TypeScript: store an object, load it back.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChainBuilder, Dio, anonymousSession } from '../../src/core/index.js';

interface World {
  commandment: string;
}

// The redo log lives in the temporary folder, as in the original.
const logPath = await mkdtemp(join(tmpdir(), 'ate-quick-start-'));
const builder = new ChainBuilder({ logPath });

// A chain with a specific key (it names the log's directory).
const chain = await builder.open('universe');

// We interact with the data stored in the chain-of-trust through a Dio.
const session = anonymousSession();
const dio = new Dio(chain, session);
const dao = dio.store<World>({ commandment: 'Hello' });
await dio.commit();

// Now we retrieve the data and print it.
const loaded = await new Dio(chain, session).load<World>(dao.key);
console.log(`${loaded.value.commandment} world!`);

await builder.close();
await rm(logPath, { recursive: true });
