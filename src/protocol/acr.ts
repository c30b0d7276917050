/**
 * Authentication Context Class References (OpenID Connect Core §2 `acr`, §3.1.2.1 `acr_values`):
 * the one list of what this server can achieve. Discovery announces it (`acr_values_supported`),
 * registration accepts only these in `default_acr_values`, /authorize refuses requests that accept
 * none of them, and every ID token names the one achieved.
 *
 * Users sign in with a username and password, and nothing else: one class. Its name is the SAML
 * 2.0 Authentication Context class for exactly that (OASIS saml-authn-context-2.0-os §3.4.18,
 * "PasswordProtectedTransport": a password presented over a protected session). It is a
 * registered, widely understood URN — relying parties brokering to SAML identity providers
 * (Shibboleth, AD FS, Entra ID) already speak it — rather than a name of our own, and it claims
 * no more than happens: one factor, no identity proofing (so no ISO/IEC 29115 or eIDAS level).
 * The transport is protected when the issuer is https, as OpenID Connect Core §16.17 requires of
 * a deployment; an http issuer is for local development only.
 */
export const ACR_PASSWORD_PROTECTED_TRANSPORT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';

export const ACR_VALUES_SUPPORTED = [ACR_PASSWORD_PROTECTED_TRANSPORT] as const;
export type AcrValue = (typeof ACR_VALUES_SUPPORTED)[number];

export const isSupportedAcr = (value: unknown): value is AcrValue => typeof value === 'string' && (ACR_VALUES_SUPPORTED as readonly string[]).includes(value);

/**
 * The class a sign-in achieved, from how it was made (its `amr`, RFC 8176): a password sign-in
 * (`pwd`) is PasswordProtectedTransport. Undefined for a sign-in of any other kind, which this
 * server does not make today; the ID token then carries no `acr` rather than a wrong one.
 */
export function achievedAcr(amr: readonly string[]): AcrValue | undefined {
  return amr.includes('pwd') ? ACR_PASSWORD_PROTECTED_TRANSPORT : undefined;
}
