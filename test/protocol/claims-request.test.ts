import { describe, expect, it } from 'vitest';
import { achievedAcr, ACR_PASSWORD_PROTECTED_TRANSPORT } from '../../src/protocol/acr.js';
import { claimsRequestFromJson, claimsRequestToJson, ClaimsRequestError, parseClaimsParameter, requestedValues } from '../../src/protocol/claims-request.js';
import { pageLanguage } from '../../src/protocol/ui-locales.js';

describe('the claims request value (OpenID Connect Core §5.5)', () => {
  it('keeps what was asked of known claims, null as {}, and reads its own JSON back unchanged', () => {
    const parsed = parseClaimsParameter(JSON.stringify({
      userinfo: { email: null, given_name: { essential: true, note: 'ignored' } },
      id_token: { acr: { essential: true, values: ['urn:x', 'urn:y'] }, sub: { value: 'abc' }, favourite_colour: null },
      other: true,
    }));
    expect(parsed).toEqual({
      userinfo: { email: {}, given_name: { essential: true } },
      id_token: { acr: { essential: true, values: ['urn:x', 'urn:y'] }, sub: { value: 'abc' } },
    });
    expect(claimsRequestFromJson(JSON.parse(claimsRequestToJson(parsed)))).toEqual(parsed);
    expect(requestedValues(parsed, 'id_token', 'sub')).toEqual(['abc']);
    expect(requestedValues(parsed, 'userinfo', 'email')).toBeUndefined();
  });

  it('leaves out a member with no known claim, and never touches the prototype', () => {
    const parsed = parseClaimsParameter('{"id_token":{"__proto__":{"essential":true},"constructor":null}}');
    expect(parsed).toEqual({});
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });

  it('refuses what stored JSON must never be', () => {
    expect(() => claimsRequestFromJson(['email'])).toThrow(ClaimsRequestError);
    expect(() => claimsRequestFromJson({ userinfo: { email: { values: 1 } } })).toThrow('claims.userinfo.email.values must be a JSON array');
  });
});

describe('acr achieved', () => {
  it('a password sign-in is PasswordProtectedTransport; any other kind claims nothing', () => {
    expect(achievedAcr(['pwd'])).toBe(ACR_PASSWORD_PROTECTED_TRANSPORT);
    expect(achievedAcr(['otp'])).toBeUndefined();
  });
});

describe('page language from ui_locales (RFC 4647 lookup)', () => {
  const offered = ['en', 'fr', 'de-CH'];
  it.each([
    [undefined, 'en'],
    ['', 'en'],
    ['fr-CA en', 'fr'],
    ['it de-CH', 'de-CH'],
    ['DE-ch', 'de-CH'],
    // lookup only shortens the request: de does not reach de-CH
    ['de', 'en'],
    ['fr-Latn-x-private', 'fr'],
    ['en_US fr', 'fr'],
    ['!! ja', 'en'],
  ])('%s → %s', (uiLocales, lang) => {
    expect(pageLanguage(uiLocales, offered)).toBe(lang);
  });

  it('this server serves English only', () => {
    expect(pageLanguage('fr-CA de')).toBe('en');
    expect(pageLanguage('en-GB')).toBe('en');
  });
});
