import { createHmac, randomBytes } from 'node:crypto';
import { sectorIdentifierOf } from '../registration/sector-identifier.js';
import type { PairwiseSubjectRepository } from '../storage/pairwise-subject-repository.js';
import type { StoredClient } from '../storage/client-repository.js';

/**
 * The `sub` a client knows a user by (OpenID Connect Core 1.0 §8): the user id for a public
 * client; for a pairwise one, an identifier of the user in the client's sector alone, so that
 * clients of different sectors cannot join their users up (§17.3). Everything that hands a user's
 * identifier to a client (ID token, access token, and through it introspection and UserInfo) asks
 * subjectFor; everything that takes one back asks userIdForSubject.
 */
export interface SubjectDeps {
  /** The deployment's pairwise salt (loadPairwiseSalt): one value on every instance, for good. */
  salt: Buffer;
  pairwiseSubjects: PairwiseSubjectRepository;
  now: () => number;
}

type SubjectClient = Pick<StoredClient, 'clientId' | 'metadata'>;

const isPairwise = (client: SubjectClient): boolean => client.metadata.subject_type === 'pairwise';

function sectorOf(client: SubjectClient): string {
  const sector = sectorIdentifierOf(client.metadata);
  // registration refuses a pairwise client without one (validate-metadata.ts checkSubjectType)
  if (sector === undefined) throw new Error(`pairwise client ${client.clientId} has no sector identifier`);
  return sector;
}

/**
 * The pairwise identifier: base64url(HMAC-SHA-256(salt, sector ' ' user id)), 43 characters.
 * HMAC rather than SHA-256 over sector || id || salt: the salt is a secret key, and HMAC is the
 * construction made to key a hash with one (a bare hash of concatenated fields also leaves where
 * one field ends to the encoding). The space cannot occur in a host name, so no two (sector,
 * user) pairs give the same input. Never reversed: the server finds the user through the row
 * subjectFor records.
 */
export function pairwiseSubject(salt: Buffer, sector: string, userId: string): string {
  return createHmac('sha256', salt).update(`${sector} ${userId}`, 'utf8').digest('base64url');
}

/** The sub `client` knows the user by, computed only (subjectFor also records it). */
export function subjectOf(salt: Buffer, client: SubjectClient, userId: string): string {
  return isPairwise(client) ? pairwiseSubject(salt, sectorOf(client), userId) : userId;
}

/** The sub `client` gets for the user; for a pairwise client, recorded so that it leads back to the user. */
export async function subjectFor(deps: SubjectDeps, client: SubjectClient, userId: string): Promise<string> {
  if (!isPairwise(client)) return userId;
  const sector = sectorOf(client);
  const subject = pairwiseSubject(deps.salt, sector, userId);
  await deps.pairwiseSubjects.record(sector, subject, userId, deps.now());
  return subject;
}

/**
 * The user a sub that `client` presents names (the sub of its access token or of its ID token), or
 * undefined. A pairwise sub is looked up in the client's sector as it is now: a client that
 * changes its subject type or sector has changed every user's sub, and what it held before no
 * longer names anyone.
 */
export async function userIdForSubject(deps: SubjectDeps, client: SubjectClient, sub: string): Promise<string | undefined> {
  if (!isPairwise(client)) return sub;
  const sector = sectorIdentifierOf(client.metadata);
  return sector === undefined ? undefined : deps.pairwiseSubjects.findUserId(sector, sub);
}

/** The pairwise salt of this database, made (256 random bits) by the first instance to ask. */
export function loadPairwiseSalt(repository: PairwiseSubjectRepository, now: number): Promise<Buffer> {
  return repository.salt(randomBytes(32), now);
}
