// The part of fuse-native 2.2.6 (CommonJS, no bundled types) that atefs uses.
declare module 'fuse-native' {
  type Callback = (...args: any[]) => void;
  class Fuse {
    constructor(mnt: string, ops: Record<string, Callback>, opts?: Record<string, unknown>);
    readonly mnt: string;
    readonly opts: Record<string, unknown>;
    readonly ops: Record<string, Callback>;
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    _fuseOptions(): string;
    static unmount(mnt: string, cb: (err: Error | null) => void): void;
    static isConfigured(cb: (err: Error | null, configured: boolean) => void): void;
  }
  export = Fuse;
}
