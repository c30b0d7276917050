import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readCookie, serializeCookie } from '../http/cookies.js';
import { formParams, registerFormBody } from '../http/form-body.js';
import { RETRY_AFTER_SECONDS } from '../http/error-handler.js';
import { OAuthError } from '../http/oauth-error.js';
import type { Html } from '../pages/html.js';
import { PAGES_STYLESHEET } from '../pages/stylesheet.js';
import { CSRF_FIELD, errorPage, loginPage, logoutPage, PAGE_PATHS, signedOutPage, statusPage, type FormError, type PageContext } from '../pages/templates.js';
import { DatabaseUnavailableError } from '../storage/unavailable.js';
import { CSRF_COOKIE, csrfToken, csrfTokenMatches, newCsrfSecret, validCsrfSecret } from './csrf.js';
import { validReturnTo } from './return-to.js';
import { formActionSource, LOGOUT_PARAMETERS, LogoutRequestError, logoutParams, validateLogoutRequest, type LogoutDeps, type ValidLogoutRequest } from './logout-request.js';
import { pageLanguage } from '../protocol/ui-locales.js';
import { endSession, resumeSession, type ActiveSession } from './sessions.js';
import { signIn, type SignInDeps } from './sign-in.js';

export const SESSION_COOKIE = 'oidcr_session';

/**
 * The pages' own headers, stricter than the JSON API's helmet defaults: nothing but our
 * stylesheet (and images) loads, forms post only here, no framing, nothing cached or referred.
 */
export const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self' https: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * The sign-out confirmation of an RP-initiated logout: its form's 303 leads to the client's
 * post_logout_redirect_uri, and browsers apply form-action to the redirects after a form
 * submission, so that one origin (already validated) is allowed beside 'self'.
 */
export const pageCspAllowingFormTarget = (source: string): string => PAGE_CSP.replace("form-action 'self'", `form-action 'self' ${source}`);

/** CSPs routes chose for their answer (usePageCsp); every other page gets PAGE_CSP. */
const chosenCsp = new WeakMap<FastifyReply, string>();

/** Answers this request with `csp` instead of PAGE_CSP (a page whose form may lead to a client). */
export function usePageCsp(reply: FastifyReply, csp: string): void {
  chosenCsp.set(reply, csp);
}

/** Usernames are at most 64 characters; anything much longer is not worth a password check. */
const MAX_USERNAME_LENGTH = 256;

export interface PageScope {
  issuer: string;
  context: PageContext;
  cookie: { path: string; secure: boolean };
}

export function sendPage(reply: FastifyReply, status: number, page: Html): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(page.text);
}

/** The visitor's CSRF secret, set as a cookie when the visitor has none yet. */
export function visitorCsrfSecret(scope: PageScope, request: FastifyRequest, reply: FastifyReply): string {
  const current = readCookie(request.headers.cookie, CSRF_COOKIE);
  if (validCsrfSecret(current)) return current;
  const secret = newCsrfSecret();
  void reply.header('set-cookie', serializeCookie(CSRF_COOKIE, secret, scope.cookie));
  return secret;
}

export function refuseForm(scope: PageScope, reply: FastifyReply, status: number, title: string, message: string): FastifyReply {
  return sendPage(reply, status, errorPage(scope.context, { title, message }));
}

/**
 * A POST that changes something must come from our own form: the CSRF token matches the
 * visitor's cookie, and a browser that says where the request comes from says it is from here.
 * (Under Referrer-Policy no-referrer Chromium sends `Origin: null` for our own forms: that
 * names no other origin, so the token decides.)
 */
export function formIsOurs(scope: PageScope, request: FastifyRequest, action: string, form: Readonly<Record<string, string>>): boolean {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== 'null' && origin !== new URL(scope.issuer).origin) return false;
  const site = request.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') return false;
  return csrfTokenMatches(readCookie(request.headers.cookie, CSRF_COOKIE), action, form[CSRF_FIELD]);
}

export const CSRF_REFUSED = ['This form has expired', 'The form could not be accepted. Go back, reload the page and try again.'] as const;

/** The scope every page route shares: the issuer, its path, the cookie attributes. */
export function pageScope(issuer: string): PageScope {
  const prefix = new URL(issuer).pathname.replace(/\/$/, '');
  return { issuer, context: { prefix }, cookie: { path: prefix === '' ? '/' : prefix, secure: issuer.startsWith('https:') } };
}

export interface SignInRouteOptions {
  /**
   * The CSP of a sign-in page that continues at `returnTo`, when that needs more than PAGE_CSP:
   * sign-in for an authorization request ends in a redirect to the client, and Chromium applies
   * the form's form-action to every redirect that follows the POST.
   */
  cspForReturnTo?: (returnTo: string) => Promise<string | undefined>;
  /** The page language (`<html lang>`) of a sign-in page that continues at `returnTo`: its ui_locales. */
  languageForReturnTo?: (returnTo: string) => Promise<string | undefined>;
}

/** Sign-in pages: GET/POST /login, GET /session, GET/POST /logout and their stylesheet. */
export function signInRoutes(app: FastifyInstance, deps: SignInDeps, issuer: string, logout: LogoutDeps, options: SignInRouteOptions = {}): void {
  const scope = pageScope(issuer);
  const prefix = scope.context.prefix;
  const paths = { login: `${prefix}${PAGE_PATHS.login}`, session: `${prefix}${PAGE_PATHS.session}`, logout: `${prefix}${PAGE_PATHS.logout}` };
  const sessionCookie = (request: FastifyRequest) => readCookie(request.headers.cookie, SESSION_COOKIE);

  registerFormBody(app);
  app.addHook('onSend', async (_request, reply, payload) => {
    // a route may have chosen a CSP of its own (one that lets a form reach a client's redirect URI)
    void reply
      .header('content-security-policy', chosenCsp.get(reply) ?? PAGE_CSP)
      .header('x-frame-options', 'DENY')
      .header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('cache-control')) void reply.header('cache-control', 'no-store');
    return payload;
  });
  // pages answer errors with a page, not the API's JSON; never a stack
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof DatabaseUnavailableError) {
      request.log.warn({ reason: error.reason }, 'database unavailable');
      void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return refuseForm(scope, reply, 503, 'Service unavailable', 'The service cannot be reached right now. Try again in a few seconds.');
    }
    const status = error instanceof OAuthError ? error.status : error.statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      request.log.info({ reason: error.message }, 'page request refused');
      return refuseForm(scope, reply, status, 'Request not understood', 'The request could not be understood.');
    }
    request.log.error({ err: error }, 'page failed');
    return refuseForm(scope, reply, 500, 'Something went wrong', 'The server could not complete the request.');
  });

  app.get(PAGE_PATHS.stylesheet, async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(PAGES_STYLESHEET),
  );

  const cspFor = async (reply: FastifyReply, returnTo: string | undefined) => {
    const csp = returnTo !== undefined && options.cspForReturnTo ? await options.cspForReturnTo(returnTo) : undefined;
    if (csp !== undefined) usePageCsp(reply, csp);
  };
  const loginContext = async (returnTo: string | undefined): Promise<PageContext> => {
    const lang = returnTo !== undefined && options.languageForReturnTo ? await options.languageForReturnTo(returnTo) : undefined;
    return lang === undefined ? scope.context : { ...scope.context, lang };
  };

  // prompt=login: show the form even to a signed-in user (an authorization request asks for a
  // fresh sign-in); login_hint: the username to start with (OIDC Core §3.1.2.1)
  app.get<{ Querystring: { return_to?: string; prompt?: string; login_hint?: string } }>(PAGE_PATHS.login, async (request, reply) => {
    const raw = typeof request.query.return_to === 'string' ? request.query.return_to : undefined;
    const returnTo = raw === undefined ? undefined : validReturnTo(issuer, raw);
    if (raw !== undefined && returnTo === undefined) return refuseForm(scope, reply, 400, 'Invalid return address', 'The address to return to after signing in is not on this server.');
    const session = await resumeSession(deps.sessions, sessionCookie(request));
    if (session && request.query.prompt !== 'login') return reply.redirect(returnTo ?? paths.session, 303);
    const hint = typeof request.query.login_hint === 'string' ? request.query.login_hint.slice(0, MAX_USERNAME_LENGTH) : undefined;
    const secret = visitorCsrfSecret(scope, request, reply);
    await cspFor(reply, returnTo);
    return sendPage(reply, 200, loginPage(await loginContext(returnTo), { csrfToken: csrfToken(secret, paths.login), returnTo, username: hint ?? session?.user.username ?? '', errors: [] }));
  });

  app.post(PAGE_PATHS.login, async (request, reply) => {
    const form = formParams(request.body);
    if (!formIsOurs(scope, request, paths.login, form)) return refuseForm(scope, reply, 403, ...CSRF_REFUSED);
    const returnTo = form.return_to === undefined ? undefined : validReturnTo(issuer, form.return_to);
    if (form.return_to !== undefined && returnTo === undefined) return refuseForm(scope, reply, 400, 'Invalid return address', 'The address to return to after signing in is not on this server.');
    const username = (form.username ?? '').trim().slice(0, MAX_USERNAME_LENGTH);
    const password = form.password ?? '';
    const again = async (status: number, errors: FormError[]) => {
      await cspFor(reply, returnTo);
      return sendPage(reply, status, loginPage(await loginContext(returnTo), { csrfToken: form[CSRF_FIELD]!, returnTo, username, errors }));
    };

    const missing: FormError[] = [
      ...(username === '' ? [{ field: 'username' as const, message: 'Enter your username' }] : []),
      ...(password === '' ? [{ field: 'password' as const, message: 'Enter your password' }] : []),
    ];
    if (missing.length > 0) return again(400, missing);

    const result = await signIn(deps, username, password, request.ip);
    if (result.outcome === 'throttled') {
      request.log.info({ by: result.by }, 'sign-in throttled');
      const minutes = Math.ceil(result.retryAfterSeconds / 60);
      void reply.header('retry-after', String(result.retryAfterSeconds));
      return again(429, [{ message: `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` }]);
    }
    if (result.outcome === 'invalid_credentials') {
      // not the username: people type their password into it by mistake
      request.log.info('sign-in failed');
      return again(400, [{ field: 'username', message: 'The username or password is incorrect' }]);
    }
    await endSession(deps.sessions, sessionCookie(request));
    request.log.info({ userId: result.user.id }, 'signed in');
    void reply.header('set-cookie', [
      serializeCookie(SESSION_COOKIE, result.cookieValue, scope.cookie),
      // a new CSRF secret with the new privilege: tokens seen before sign-in no longer work
      serializeCookie(CSRF_COOKIE, newCsrfSecret(), scope.cookie),
    ]);
    return reply.redirect(returnTo ?? paths.session, 303);
  });

  app.get(PAGE_PATHS.session, async (request, reply) => {
    const session = await resumeSession(deps.sessions, sessionCookie(request));
    if (session === undefined) return reply.redirect(paths.login, 303);
    const secret = visitorCsrfSecret(scope, request, reply);
    return sendPage(reply, 200, statusPage(scope.context, { csrfToken: csrfToken(secret, paths.logout), username: session.user.username, authTime: session.authTime }));
  });

  /**
   * The end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0): a request, by GET or by a
   * POST without our confirmation fields, is validated and answered with the confirmation page;
   * only the confirmation (a CSRF-checked POST from that page) signs the user out. Without a session
   * there is nothing to confirm: the user goes straight to the validated post_logout_redirect_uri,
   * or sees the signed-out page.
   */
  const logoutRequest = async (request: FastifyRequest, reply: FastifyReply, source: unknown): Promise<FastifyReply> => {
    let valid: ValidLogoutRequest;
    try {
      valid = await validateLogoutRequest(logout, logoutParams(source));
    } catch (error) {
      if (!(error instanceof LogoutRequestError)) throw error;
      request.log.info({ reason: error.reason }, 'logout request refused');
      return refuseForm(scope, reply, 400, error.title, error.userMessage);
    }
    const session = await resumeSession(deps.sessions, sessionCookie(request));
    if (session === undefined) {
      if (valid.redirectTo !== undefined) return reply.redirect(valid.redirectTo, 303);
      return sendPage(reply, 200, signedOutPage(scope.context, 'You are not signed in'));
    }
    const secret = visitorCsrfSecret(scope, request, reply);
    if (valid.redirectTo !== undefined) usePageCsp(reply, pageCspAllowingFormTarget(formActionSource(valid.redirectTo)));
    return sendPage(
      reply,
      200,
      // ui_locales (RP-Initiated Logout §2): the language of the confirmation
      logoutPage({ ...scope.context, lang: pageLanguage(valid.params.ui_locales) }, {
        csrfToken: csrfToken(secret, paths.logout),
        username: session.user.username,
        client: valid.client,
        returnHost: valid.redirectTo === undefined ? undefined : new URL(valid.redirectTo).host || undefined,
        otherSignIn: otherSignIn(valid, session),
        request: valid.params,
      }),
    );
  };

  app.get(PAGE_PATHS.logout, async (request, reply) => logoutRequest(request, reply, request.query));

  app.post(PAGE_PATHS.logout, async (request, reply) => {
    const form = formParams(request.body);
    if (form[CSRF_FIELD] === undefined && form.confirm === undefined) {
      // A relying party's POST: cross-site, so the SameSite=Lax session cookie did not come with it.
      // The same request as a GET (a top-level navigation, which carries it) finds the session.
      if (sessionCookie(request) === undefined) {
        const query = new URLSearchParams(LOGOUT_PARAMETERS.flatMap((name) => (form[name] === undefined ? [] : [[name, form[name]!] as [string, string]])));
        const search = query.toString();
        return reply.redirect(`${paths.logout}${search === '' ? '' : `?${search}`}`, 303);
      }
      return logoutRequest(request, reply, form);
    }
    if (!formIsOurs(scope, request, paths.logout, form)) return refuseForm(scope, reply, 403, ...CSRF_REFUSED);
    let valid: ValidLogoutRequest;
    try {
      valid = await validateLogoutRequest(logout, logoutParams(form));
    } catch (error) {
      if (!(error instanceof LogoutRequestError)) throw error;
      request.log.info({ reason: error.reason }, 'logout confirmation refused');
      return refuseForm(scope, reply, 400, error.title, error.userMessage);
    }
    if (await endSession(deps.sessions, sessionCookie(request))) request.log.info({ clientId: valid.client?.clientId }, 'signed out');
    void reply.header('set-cookie', serializeCookie(SESSION_COOKIE, '', { ...scope.cookie, maxAge: 0 }));
    if (valid.redirectTo !== undefined) return reply.redirect(valid.redirectTo, 303);
    return sendPage(reply, 200, signedOutPage(scope.context));
  });
}

/**
 * Whether a verified hint names another sign-in than the browser's: its sid is not this session's,
 * or (a hint without sid) its sub, public or pairwise, does not name this user. The user is asked
 * all the same (§2: the OP MUST ask then) and told; confirming signs out the session of this
 * browser, the only one it has.
 */
function otherSignIn(valid: ValidLogoutRequest, session: ActiveSession): boolean {
  if (valid.hint === undefined) return false;
  return valid.hint.sid !== undefined ? valid.hint.sid !== session.sid : valid.hintUserId !== session.user.id;
}
