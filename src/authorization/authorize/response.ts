import { createHash } from 'node:crypto';
import { Html, html } from '../../pages/html.js';
import { DEFAULT_UI_LOCALE } from '../../protocol/ui-locales.js';
import type { ErrorTarget } from './errors.js';

/**
 * Authorization responses (RFC 6749 §4.1.2, §4.1.2.1), always with `iss` (RFC 9207 §2) and the
 * request's `state`: as query parameters of the redirect URI, or as a form the browser posts to
 * it (OAuth 2.0 Form Post Response Mode).
 */
export type AuthorizationResponse =
  | { kind: 'redirect'; location: string }
  | { kind: 'form_post'; action: string; page: Html; csp: string };

/**
 * The one script of the pages: submits the form_post form. Allowed by its hash, not by
 * 'unsafe-inline'; without script, the page shows a button instead (noscript).
 */
const AUTO_SUBMIT_SCRIPT = 'document.forms[0].submit();';
const AUTO_SUBMIT_HASH = `'sha256-${createHash('sha256').update(AUTO_SUBMIT_SCRIPT).digest('base64')}'`;

/**
 * What a CSP form-action needs to let a form (or a redirect after a form) reach the redirect URI:
 * its origin for http(s), its scheme for a native app's private-use scheme.
 */
export function formActionSource(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}

/** The pages' CSP, with the redirect URI's origin added to form-action. */
export function cspAllowingFormTo(redirectUri: string, scriptHash?: string): string {
  return [
    "default-src 'none'",
    "style-src 'self'",
    "img-src 'self' https: data:",
    ...(scriptHash !== undefined ? [`script-src ${scriptHash}`] : []),
    `form-action 'self' ${formActionSource(redirectUri)}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
}

function formPostPage(action: string, fields: Record<string, string>, lang: string): Html {
  return html`<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>Returning to the application</title>
</head>
<body>
<form method="post" action="${action}">
${Object.entries(fields).map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">\n`)}<noscript><p>Script is turned off: continue to the application with this button.</p><button type="submit">Continue</button></noscript>
</form>
<script>${new Html(AUTO_SUBMIT_SCRIPT)}</script>
</body>
</html>
`;
}

/** `lang`: the form_post page's language, from the request's ui_locales. */
export function authorizationResponse(target: ErrorTarget, issuer: string, fields: Record<string, string>, lang: string = DEFAULT_UI_LOCALE): AuthorizationResponse {
  const all: Record<string, string> = { ...fields, ...(target.state !== undefined ? { state: target.state } : {}), iss: issuer };
  if (target.responseMode === 'form_post') {
    return { kind: 'form_post', action: target.redirectUri, page: formPostPage(target.redirectUri, all, lang), csp: cspAllowingFormTo(target.redirectUri, AUTO_SUBMIT_HASH) };
  }
  const url = new URL(target.redirectUri);
  for (const [name, value] of Object.entries(all)) url.searchParams.append(name, value);
  return { kind: 'redirect', location: url.href };
}
