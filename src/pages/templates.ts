import { ENDPOINT_PATHS } from '../http/endpoints.js';
import { DEFAULT_UI_LOCALE } from '../protocol/ui-locales.js';
import { html, type Html } from './html.js';

/** Where the pages live under the issuer path; the routes and the templates read these. */
export const PAGE_PATHS = {
  login: '/login',
  session: '/session',
  /** Also the end_session_endpoint (RP-Initiated Logout 1.0), announced by discovery. */
  logout: ENDPOINT_PATHS.endSession,
  consent: '/consent',
  authorize: '/authorize',
  authorizeResume: '/authorize/resume',
  stylesheet: '/assets/pages.css',
} as const;

/** The hidden field that carries the CSRF token of every form. */
export const CSRF_FIELD = 'csrf_token';

/** What every page needs: the issuer path its links and forms start with. */
export interface PageContext {
  /** The issuer's path without a trailing slash ('' at the root). */
  prefix: string;
  /** `<html lang>`: the language a request's ui_locales chose (src/protocol/ui-locales.ts); default en. */
  lang?: string;
}

/** One problem in a form: shown in the error summary, linked to its field when it has one. */
export interface FormError {
  field?: 'username' | 'password';
  message: string;
}

function layout(context: PageContext, title: string, main: Html): Html {
  return html`<!doctype html>
<html lang="${context.lang ?? DEFAULT_UI_LOCALE}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${context.prefix}${PAGE_PATHS.stylesheet}">
</head>
<body>
<main id="main" class="page">
${main}
</main>
</body>
</html>
`;
}

/** The error summary: announced (role="alert") and focused on load, each item a link to its field. */
function errorSummary(errors: readonly FormError[]): Html {
  if (errors.length === 0) return html``;
  return html`<div class="error-summary" id="error-summary" role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title">
<h2 id="error-summary-title">There is a problem</h2>
<ul>
${errors.map((error) => (error.field ? html`<li><a href="#${error.field}">${error.message}</a></li>\n` : html`<li>${error.message}</li>\n`))}</ul>
</div>`;
}

function csrfField(token: string): Html {
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${token}">`;
}

export interface LoginPage {
  csrfToken: string;
  /** Where a successful sign-in continues: a path inside this server, already validated. */
  returnTo: string | undefined;
  /** What the visitor typed, shown again after a failure; never the password. */
  username: string;
  errors: readonly FormError[];
}

export function loginPage(context: PageContext, page: LoginPage): Html {
  const fieldError = (field: FormError['field']) => page.errors.find((error) => error.field === field);
  const input = (field: 'username' | 'password', label: string, type: string, autocomplete: string, value: string, focus: boolean) => {
    const error = fieldError(field);
    return html`<div class="field${error ? ' field-error' : ''}">
<label for="${field}">${label}</label>
${error ? html`<p class="error-message" id="${field}-error">${error.message}</p>\n` : ''}<input id="${field}" name="${field}" type="${type}" autocomplete="${autocomplete}" required spellcheck="false" autocapitalize="none"${value !== '' ? html` value="${value}"` : ''}${error ? html` aria-invalid="true" aria-describedby="${field}-error"` : ''}${focus ? html` autofocus` : ''}>
</div>`;
  };
  return layout(
    context,
    page.errors.length > 0 ? 'Error: Sign in' : 'Sign in',
    html`<h1>Sign in</h1>
${errorSummary(page.errors)}
<form method="post" action="${context.prefix}${PAGE_PATHS.login}" novalidate>
${csrfField(page.csrfToken)}
${page.returnTo !== undefined ? html`<input type="hidden" name="return_to" value="${page.returnTo}">` : ''}
${input('username', 'Username', 'text', 'username', page.username, page.errors.length === 0 && page.username === '')}
${input('password', 'Password', 'password', 'current-password', '', page.errors.length === 0 && page.username !== '')}
<button type="submit">Sign in</button>
</form>`,
  );
}

export interface StatusPage {
  csrfToken: string;
  username: string;
  /** When the user signed in, seconds since the epoch. */
  authTime: number;
}

/** What a signed-in user sees with no request waiting: who is signed in, and a way out. */
export function statusPage(context: PageContext, page: StatusPage): Html {
  const since = new Date(page.authTime * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return layout(
    context,
    'Signed in',
    html`<h1>You are signed in</h1>
<p>Signed in as <strong class="username">${page.username}</strong> since <time datetime="${new Date(page.authTime * 1000).toISOString()}">${since}</time>.</p>
<form method="post" action="${context.prefix}${PAGE_PATHS.logout}">
${csrfField(page.csrfToken)}
<input type="hidden" name="confirm" value="yes">
<button type="submit">Sign out</button>
</form>`,
  );
}

export interface LogoutPage {
  csrfToken: string;
  /** Who would be signed out; undefined when nobody is signed in. */
  username: string | undefined;
  /** The application that asked for the sign-out (RP-initiated logout), when known. */
  client?: { name: string | undefined; clientId: string; host: string | undefined } | undefined;
  /** Where the user goes afterwards: the host of the validated post_logout_redirect_uri. */
  returnHost?: string | undefined;
  /** The request's id_token_hint names another sign-in than this browser's (RP-Initiated Logout §2). */
  otherSignIn?: boolean;
  /** The logout request, carried through the form so the POST validates it again. */
  request?: Readonly<Record<string, string | undefined>>;
}

/** The sign-out confirmation: a GET never signs anyone out, the button (a CSRF-checked POST) does. */
export function logoutPage(context: PageContext, page: LogoutPage): Html {
  if (page.username === undefined) return signedOutPage(context, 'You are not signed in');
  const client = page.client;
  const named = client
    ? html`<strong class="client-name">${client.name ?? client.clientId}</strong>${client.host !== undefined ? html` (<span class="client-host">${client.host}</span>)` : ''}`
    : undefined;
  const carried = Object.entries(page.request ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return layout(
    context,
    'Sign out',
    html`<h1>Sign out</h1>
${named ? html`<p>${named} asks to sign you out of this server.</p>
` : ''}${page.otherSignIn ? html`<p class="notice">The request was made for a different sign-in than the one in this browser.</p>
` : ''}<p>You are signed in as <strong class="username">${page.username}</strong>. Do you want to sign out?</p>
${page.returnHost !== undefined ? html`<p>You will then return to <span class="return-host">${page.returnHost}</span>.</p>
` : ''}<form method="post" action="${context.prefix}${PAGE_PATHS.logout}">
${csrfField(page.csrfToken)}
<input type="hidden" name="confirm" value="yes">
${carried.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}">
`)}<button type="submit" autofocus>Sign out</button>
</form>`,
  );
}

export function signedOutPage(context: PageContext, heading = 'You have signed out'): Html {
  return layout(
    context,
    heading,
    html`<h1>${heading}</h1>
<p><a href="${context.prefix}${PAGE_PATHS.login}">Sign in</a></p>`,
  );
}

export interface ErrorPage {
  title: string;
  message: string;
}

/** Shown for a refused form (CSRF), a bad return_to, an outage: never a redirect, never a stack. */
export function errorPage(context: PageContext, page: ErrorPage): Html {
  return layout(
    context,
    page.title,
    html`<h1>${page.title}</h1>
<p>${page.message}</p>
<p><a href="${context.prefix}${PAGE_PATHS.login}">Go to the sign-in page</a></p>`,
  );
}

/** What each scope lets the application do, in words a user reads on the consent page. */
const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  openid: 'Know who you are on this server (your user id)',
  profile: 'See your name and profile details',
  email: 'See your e-mail address',
  address: 'See your postal address',
  phone: 'See your phone number',
  offline_access: 'Keep access while you are not using it',
};

/** The user's claims a claims request may ask for beyond its scopes (src/users/scope-claims.ts), in words. */
const CLAIM_DESCRIPTIONS: Readonly<Record<string, string>> = {
  name: 'your full name',
  family_name: 'your family name',
  given_name: 'your given name',
  middle_name: 'your middle name',
  nickname: 'your nickname',
  preferred_username: 'your username',
  profile: 'the address of your profile page',
  picture: 'your picture',
  website: 'your website',
  gender: 'your gender',
  birthdate: 'your birth date',
  zoneinfo: 'your time zone',
  locale: 'your language',
  updated_at: 'when your account last changed',
  email: 'your e-mail address',
  email_verified: 'whether your e-mail address is verified',
  address: 'your postal address',
  phone_number: 'your phone number',
  phone_number_verified: 'whether your phone number is verified',
};

export interface ConsentPage {
  csrfToken: string;
  /** The handle of the waiting authorization request. */
  request: string;
  username: string;
  client: {
    name: string | undefined;
    clientId: string;
    logoUri: string | undefined;
    policyUri: string | undefined;
    tosUri: string | undefined;
  };
  /** The host the answer goes to: shown so that a look-alike name cannot pass for another application. */
  redirectHost: string;
  scopes: readonly string[];
  /** Claims asked for by name (a claims request) beyond what the scopes give. */
  claims?: readonly string[];
}

/**
 * The consent page: names the application (as it registered itself, which anyone can do, so the
 * host its answer goes to is shown beside it), lists what it asks for, and answers with a
 * CSRF-checked POST. No script: two submit buttons.
 */
export function consentPage(context: PageContext, page: ConsentPage): Html {
  const name = page.client.name ?? page.client.clientId;
  return layout(
    context,
    `Allow ${name} access?`,
    html`<h1>Allow <span class="client-name">${name}</span> access to your account?</h1>
${page.client.logoUri !== undefined ? html`<p><img class="client-logo" src="${page.client.logoUri}" alt="" width="64" height="64"></p>
` : ''}<p>You are signed in as <strong class="username">${page.username}</strong>.</p>
<p>The application will receive the answer at <strong class="redirect-host">${page.redirectHost}</strong>. Continue only if you trust this address.</p>
<h2 id="scopes-title">It asks to</h2>
<ul aria-labelledby="scopes-title" class="scopes">
${page.scopes.map((scope) => html`<li>${SCOPE_DESCRIPTIONS[scope] ?? html`Use the permission <code>${scope}</code>`}</li>
`)}${page.claims !== undefined && page.claims.length > 0 ? html`<li>See ${page.claims.map((claim) => CLAIM_DESCRIPTIONS[claim] ?? claim).join(', ')}</li>
` : ''}</ul>
${page.client.policyUri !== undefined || page.client.tosUri !== undefined
    ? html`<p>${page.client.policyUri !== undefined ? html`<a href="${page.client.policyUri}" rel="noopener noreferrer">Privacy policy</a> ` : ''}${page.client.tosUri !== undefined ? html`<a href="${page.client.tosUri}" rel="noopener noreferrer">Terms of service</a>` : ''}</p>
`
    : ''}<form method="post" action="${context.prefix}${PAGE_PATHS.consent}">
${csrfField(page.csrfToken)}
<input type="hidden" name="request" value="${page.request}">
<button type="submit" name="decision" value="allow" autofocus>Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`,
  );
}
