// The fsx model checker on a filesystem with 16 KiB chunks: many more chunk boundaries per operation.
import { fsxTest } from './fsx.test.js';

fsxTest('16 KiB chunks', { chunkSize: 16 * 1024 });
