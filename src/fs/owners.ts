// File owners as stored in the chain and as shown to the kernel. Normally both are the local ids.
// With --impersonate-uid the logged-in user's ids from the auth server are stored instead, and
// shown as the local owner's: the files a user writes then belong to that user on every machine
// they mount from, whatever their local uid there; other users' files show their global ids.

/** The logged-in user's ids from the auth server (gid: of the mounted group, or the user's own). */
export interface GlobalIds {
  readonly uid: number;
  readonly gid?: number;
}

export class Owners {
  constructor(
    /** The local owner of the mount: new files are theirs. */
    private readonly uid: number,
    private readonly gid: number,
    private readonly global?: GlobalIds,
  ) {}

  /** The ids to store for a local uid and gid (-1 keeps the stored one, as chown(2) does). */
  storedUid(uid: number): number {
    return this.global && uid === this.uid ? this.global.uid : uid;
  }

  storedGid(gid: number): number {
    return this.global?.gid !== undefined && gid === this.gid ? this.global.gid : gid;
  }

  /** The owner of a new file, as stored. */
  get newUid(): number {
    return this.storedUid(this.uid);
  }

  get newGid(): number {
    return this.storedGid(this.gid);
  }

  shownUid(stored: number): number {
    return this.global && stored === this.global.uid ? this.uid : stored;
  }

  shownGid(stored: number): number {
    return this.global?.gid !== undefined && stored === this.global.gid ? this.gid : stored;
  }
}
