// The few parts of hypercore (no bundled types) that the benchmarks use.
declare module 'hypercore' {
  export default class Hypercore {
    constructor(storage: string, opts?: Record<string, unknown>);
    readonly length: number;
    ready(): Promise<void>;
    append(blocks: Buffer | Buffer[]): Promise<{ length: number }>;
    get(index: number): Promise<Buffer>;
    createReadStream(opts?: Record<string, unknown>): AsyncIterable<Buffer>;
    close(): Promise<void>;
  }
}
