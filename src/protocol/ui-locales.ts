/**
 * Languages of the sign-in pages (OpenID Connect Core §3.1.2.1 `ui_locales`, Discovery §3
 * `ui_locales_supported`). The pages are written in English only; discovery announces this list,
 * and a request's ui_locales chooses among it.
 */
export const UI_LOCALES_SUPPORTED = ['en'] as const;

/** The language of pages nobody asked a language for. */
export const DEFAULT_UI_LOCALE = UI_LOCALES_SUPPORTED[0];

/** A BCP 47 tag in canonical form, or undefined when it is not well formed. */
function canonical(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

/** RFC 4647 §3.4 lookup: the tag, then shorter and shorter prefixes (never one ending in a single-letter subtag). */
function lookupCandidates(tag: string): string[] {
  const subtags = tag.toLowerCase().split('-');
  const candidates: string[] = [];
  for (let count = subtags.length; count > 0; count--) {
    if (subtags[count - 1]!.length > 1) candidates.push(subtags.slice(0, count).join('-'));
  }
  return candidates;
}

/**
 * The page language for a request's ui_locales: the first tag, in order of preference, that one
 * of `supported` serves by lookup (en-GB falls back to en). ui_locales is a preference (Core
 * §3.1.2.1: unsupported locales SHOULD NOT cause an error), so tags that are not supported, or
 * not even well formed (fr_CA), are passed over, and nothing suitable means the first supported.
 */
export function pageLanguage(uiLocales: string | undefined, supported: readonly string[] = UI_LOCALES_SUPPORTED): string {
  const offered = new Map(supported.map((tag) => [tag.toLowerCase(), tag]));
  for (const requested of (uiLocales ?? '').split(' ')) {
    const tag = requested === '' ? undefined : canonical(requested);
    if (tag === undefined) continue;
    const served = lookupCandidates(tag).map((candidate) => offered.get(candidate)).find((found) => found !== undefined);
    if (served !== undefined) return served;
  }
  return supported[0] ?? DEFAULT_UI_LOCALE;
}
