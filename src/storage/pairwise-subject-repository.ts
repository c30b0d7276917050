import type { Queryable } from './database.js';

/** The deployment's pairwise salt and the subjects issued under it (migration 0014). */
export class PairwiseSubjectRepository {
  constructor(private readonly db: Queryable) {}

  /**
   * The salt, storing `candidate` when there is none yet. Read first, so that an instance on a
   * read-only standby starts once the salt exists. The insert and the read after it are separate
   * statements: an instance whose insert lost the race to another (ON CONFLICT waits for the
   * winner's commit) reads the winner's salt with the fresh snapshot of its next statement.
   */
  async salt(candidate: Uint8Array, now: number): Promise<Buffer> {
    const stored = await this.storedSalt();
    if (stored !== undefined) return stored;
    await this.db.query('INSERT INTO pairwise_salt (only_row, salt, created_at) VALUES (true, $1, $2) ON CONFLICT (only_row) DO NOTHING', [candidate, now]);
    const made = await this.storedSalt();
    if (made === undefined) throw new Error('pairwise_salt is empty right after an insert');
    return made;
  }

  private async storedSalt(): Promise<Buffer | undefined> {
    const [row] = await this.db.query<{ salt: Uint8Array }>('SELECT salt FROM pairwise_salt WHERE only_row');
    return row && Buffer.from(row.salt);
  }

  /** Records that `subject` names `userId` in `sector`; a subject already recorded stays as it is. */
  async record(sector: string, subject: string, userId: string, now: number): Promise<void> {
    await this.db.query(
      'INSERT INTO pairwise_subjects (sector, subject, user_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sector, subject) DO NOTHING',
      [sector, subject, userId, now],
    );
  }

  /** The user a subject of `sector` names, or undefined. */
  async findUserId(sector: string, subject: string): Promise<string | undefined> {
    const [row] = await this.db.query<{ user_id: string }>('SELECT user_id FROM pairwise_subjects WHERE sector = $1 AND subject = $2', [sector, subject]);
    return row?.user_id;
  }
}
