/** Longer return_to values are refused: an authorization request fits well within this. */
const MAX_RETURN_TO_LENGTH = 4096;

/**
 * Where the sign-in page sends the user afterwards: a path on this server under the issuer path,
 * given as a relative reference (`/tenant/authorize?client_id=...`). Anything that could leave
 * this server — another origin, a scheme-relative `//host`, a backslash browsers read as a slash,
 * control characters — is refused (undefined), never followed. Returns path and query only.
 */
export function validReturnTo(issuer: string, raw: string): string | undefined {
  if (raw.length > MAX_RETURN_TO_LENGTH || !raw.startsWith('/') || raw.startsWith('//')) return undefined;
  if (/[\\\x00-\x20\x7f]/.test(raw)) return undefined;
  let url: URL;
  const base = new URL(issuer);
  try {
    url = new URL(raw, base);
  } catch {
    return undefined;
  }
  if (url.origin !== base.origin || url.hash !== '') return undefined;
  const prefix = base.pathname.replace(/\/$/, '');
  if (!url.pathname.startsWith(`${prefix}/`)) return undefined;
  // the normalised form must be what was given: no dot segments climbing out of the issuer path
  if (`${url.pathname}${url.search}` !== raw) return undefined;
  return raw;
}
