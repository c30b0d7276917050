import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomToken } from '../../crypto/random.js';
import { hashToken } from '../../crypto/token-hash.js';
import { readCookie } from '../../http/cookies.js';
import { formParams, parameterRecord } from '../../http/form-body.js';
import { consentPage, errorPage, PAGE_PATHS } from '../../pages/templates.js';
import type { AuthorizationRepository, ConsentRepository } from '../../storage/authorization-repository.js';
import type { ClientRepository, StoredClient } from '../../storage/client-repository.js';
import { csrfToken } from '../csrf.js';
import { CSRF_REFUSED, formIsOurs, pageScope, refuseForm, sendPage, SESSION_COOKIE, usePageCsp, visitorCsrfSecret } from '../routes.js';
import { resumeSession, type ActiveSession, type SessionDeps } from '../sessions.js';
import { pageLanguage } from '../../protocol/ui-locales.js';
import { checkClient, validateAuthorizationRequest } from './checks.js';
import { claimsBeyondScope, namesSubject, withClaimsRules } from './claims-interaction.js';
import { AuthorizationPageError, AuthorizationRedirectError, type AuthorizationErrorCode, type ErrorTarget } from './errors.js';
import { requiredInteraction } from './interaction.js';
import { issueAuthorizationCode } from './issue-code.js';
import type { AuthorizationParams, ValidatedAuthorizationRequest } from './request.js';
import { authorizationResponse, cspAllowingFormTo, type AuthorizationResponse } from './response.js';
import { subjectOf, type SubjectDeps } from '../../users/subjects.js';

export interface AuthorizeDeps {
  issuer: string;
  clients: ClientRepository;
  authorizations: AuthorizationRepository;
  consents: ConsentRepository;
  sessions: SessionDeps;
  scopesSupported: readonly string[];
  /** The pairwise salt, to compare a requested sub with the one the client knows the user by. */
  subjects: Pick<SubjectDeps, 'salt'>;
  /** RESOURCE_INDICATORS: the resources (RFC 8707) a request may name. */
  resourceIndicators: readonly string[];
  now: () => number;
}

/** How long a request may wait for the user to sign in and consent. */
export const PENDING_REQUEST_SECONDS = 10 * 60;
/** Handles of waiting requests: 256 random bits, base64url. */
const HANDLE = /^[A-Za-z0-9_-]{43}$/;

const EXPIRED = ['This request has expired', 'The sign-in request is no longer waiting. Go back to the application and start again.'] as const;

/**
 * The query of a GET: a parameter given twice is refused (RFC 6749 §3.1), before anything is
 * trusted, except `resource` (RFC 8707 §2); one sent without a value counts as omitted.
 */
function singleValued(query: unknown): AuthorizationParams {
  const pairs = Object.entries((query ?? {}) as Record<string, unknown>).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string').map((v) => [name, v] as const));
  const parsed = parameterRecord(pairs);
  if ('repeated' in parsed) throw new AuthorizationPageError('Invalid request', 'The request repeats a parameter; it cannot be trusted.', `parameter ${parsed.repeated} repeated`);
  return parsed.params;
}

/**
 * The authorization endpoint (RFC 6749 §3.1, OIDC Core §3.1.2): GET and POST /authorize run the
 * checks of checks.ts; a request that needs the user waits server-side while the user signs in
 * (/login, back to /authorize/resume) and consents (/consent); then a code goes to the client.
 */
export function authorizeRoutes(app: FastifyInstance, deps: AuthorizeDeps): void {
  const scope = pageScope(deps.issuer);
  const prefix = scope.context.prefix;
  const paths = { consent: `${prefix}${PAGE_PATHS.consent}`, resume: `${prefix}${PAGE_PATHS.authorizeResume}`, login: `${prefix}${PAGE_PATHS.login}` };
  const sessionCookie = (request: FastifyRequest) => readCookie(request.headers.cookie, SESSION_COOKIE);
  const redirectStatus = (request: FastifyRequest) => (request.method === 'POST' ? 303 : 302);

  const showPageError = (request: FastifyRequest, reply: FastifyReply, error: AuthorizationPageError) => {
    request.log.info({ reason: error.logReason }, 'authorization request refused');
    return sendPage(reply, 400, errorPage(scope.context, { title: error.title, message: error.message }));
  };

  const send = (request: FastifyRequest, reply: FastifyReply, response: AuthorizationResponse) => {
    if (response.kind === 'redirect') return reply.redirect(response.location, redirectStatus(request));
    usePageCsp(reply, response.csp);
    return sendPage(reply, 200, response.page);
  };

  const sendError = (request: FastifyRequest, reply: FastifyReply, target: ErrorTarget, code: AuthorizationErrorCode, description: string) => {
    request.log.info({ error: code, description }, 'authorization error sent to the client');
    return send(request, reply, authorizationResponse(target, deps.issuer, { error: code, error_description: description }));
  };

  const targetOf = (validated: ValidatedAuthorizationRequest): ErrorTarget => ({
    redirectUri: validated.redirectUri,
    responseMode: validated.responseMode,
    ...(validated.state !== undefined ? { state: validated.state } : {}),
  });

  /** A waiting request by its handle, with its client (still usable); undefined when gone. */
  async function pending(handle: string | undefined) {
    if (handle === undefined || !HANDLE.test(handle)) return undefined;
    const idHash = hashToken(handle);
    const stored = await deps.authorizations.findRequest(idHash, deps.now());
    if (!stored) return undefined;
    const client = checkClient(stored.clientId, await deps.clients.findById(stored.clientId), deps.now());
    return { idHash, handle, client, validated: stored.request as unknown as ValidatedAuthorizationRequest };
  }

  async function park(validated: ValidatedAuthorizationRequest): Promise<string> {
    const handle = randomToken(256);
    const now = deps.now();
    await deps.authorizations.insertRequest({
      idHash: hashToken(handle),
      clientId: validated.clientId,
      request: validated as unknown as Record<string, unknown>,
      createdAt: now,
      expiresAt: now + PENDING_REQUEST_SECONDS,
    });
    return handle;
  }

  /** The interactions the request still needs, else the code: OIDC Core §3.1.2.3 to §3.1.2.5. */
  async function proceed(
    request: FastifyRequest,
    reply: FastifyReply,
    validated: ValidatedAuthorizationRequest,
    waiting: { idHash: Buffer; handle: string } | undefined,
    consentGiven = false,
  ): Promise<FastifyReply> {
    const session = await resumeSession(deps.sessions, sessionCookie(request));
    const granted = session && (await deps.consents.find(session.user.id, validated.clientId));
    const grantedScope = granted?.scope.split(' ');
    // a sub the request names is the client's sub for the user: pairwise for some clients
    const client = session && namesSubject(validated.claims) ? await deps.clients.findById(validated.clientId) : undefined;
    const subject = session && (client ? subjectOf(deps.subjects.salt, client, session.user.id) : session.user.id);
    const interaction = withClaimsRules(
      requiredInteraction(validated, session, grantedScope, consentGiven, deps.now()),
      validated,
      session && { ...session, subject: subject! },
      granted && { scope: grantedScope!, claims: (granted.claims ?? '').split(' ').filter((name) => name !== '') },
      consentGiven,
    );
    const finish = async () => waiting && (await deps.authorizations.deleteRequest(waiting.idHash));
    if (interaction.needs === 'other_user') {
      await finish();
      return sendError(request, reply, targetOf(validated), 'login_required', 'the signed-in user is not the subject the request names (claims sub)');
    }
    if (interaction.needs !== 'nothing' && validated.prompt.includes('none')) {
      await finish();
      const code = interaction.needs === 'login' ? 'login_required' : 'consent_required';
      return sendError(request, reply, targetOf(validated), code, interaction.needs === 'login' ? 'the user must sign in' : 'the user must consent to this client');
    }
    if (interaction.needs === 'login') {
      const handle = waiting?.handle ?? (await park(validated));
      const login = new URLSearchParams({ return_to: `${paths.resume}?request=${handle}` });
      if (interaction.reauthenticate) login.set('prompt', 'login');
      if (validated.loginHint !== undefined) login.set('login_hint', validated.loginHint);
      return reply.redirect(`${paths.login}?${login.toString()}`, 303);
    }
    if (interaction.needs === 'consent') {
      const handle = waiting?.handle ?? (await park(validated));
      return reply.redirect(`${paths.consent}?request=${handle}`, 303);
    }
    await finish();
    const code = await issueAuthorizationCode(deps, validated, session!);
    request.log.info({ client_id: validated.clientId, userId: session!.user.id, scope: validated.scope.join(' ') }, 'authorization code issued');
    return send(request, reply, authorizationResponse(targetOf(validated), deps.issuer, { code }, pageLanguage(validated.uiLocales)));
  }

  async function authorize(request: FastifyRequest, reply: FastifyReply, read: () => AuthorizationParams) {
    let validated: ValidatedAuthorizationRequest;
    try {
      const params = read();
      const client = params.client_id === undefined ? undefined : await deps.clients.findById(params.client_id);
      validated = validateAuthorizationRequest(params, checkClient(params.client_id, client, deps.now()), { scopesSupported: deps.scopesSupported, resourceIndicators: deps.resourceIndicators, now: deps.now() });
    } catch (error) {
      if (error instanceof AuthorizationPageError) return showPageError(request, reply, error);
      if (error instanceof AuthorizationRedirectError && error.target) return sendError(request, reply, error.target, error.code, error.message);
      throw error;
    }
    return proceed(request, reply, validated, undefined);
  }

  app.get(PAGE_PATHS.authorize, (request, reply) => authorize(request, reply, () => singleValued(request.query)));
  app.post(PAGE_PATHS.authorize, (request, reply) => authorize(request, reply, () => formParams(request.body)));

  // back from the sign-in page: the same decision, for the request that waited
  app.get<{ Querystring: { request?: string } }>(PAGE_PATHS.authorizeResume, async (request, reply) => {
    try {
      const waiting = await pending(typeof request.query.request === 'string' ? request.query.request : undefined);
      if (!waiting) return refuseForm(scope, reply, 400, ...EXPIRED);
      return await proceed(request, reply, waiting.validated, waiting);
    } catch (error) {
      if (error instanceof AuthorizationPageError) return showPageError(request, reply, error);
      throw error;
    }
  });

  const consentFor = (client: StoredClient, validated: ValidatedAuthorizationRequest, session: ActiveSession, handle: string, token: string) => {
    const text = (name: string) => (typeof client.metadata[name] === 'string' ? (client.metadata[name] as string) : undefined);
    return consentPage({ ...scope.context, lang: pageLanguage(validated.uiLocales) }, {
      csrfToken: token,
      request: handle,
      username: session.user.username,
      client: { name: text('client_name'), clientId: client.clientId, logoUri: text('logo_uri'), policyUri: text('policy_uri'), tosUri: text('tos_uri') },
      redirectHost: new URL(validated.redirectUri).host || new URL(validated.redirectUri).protocol,
      scopes: validated.scope,
      claims: claimsBeyondScope(validated),
    });
  };

  app.get<{ Querystring: { request?: string } }>(PAGE_PATHS.consent, async (request, reply) => {
    try {
      const waiting = await pending(typeof request.query.request === 'string' ? request.query.request : undefined);
      if (!waiting) return refuseForm(scope, reply, 400, ...EXPIRED);
      const session = await resumeSession(deps.sessions, sessionCookie(request));
      if (!session) return reply.redirect(`${paths.login}?${new URLSearchParams({ return_to: `${paths.resume}?request=${waiting.handle}` }).toString()}`, 303);
      const secret = visitorCsrfSecret(scope, request, reply);
      // the answer is a redirect to the client after this form's POST: form-action must allow it
      usePageCsp(reply, cspAllowingFormTo(waiting.validated.redirectUri));
      return sendPage(reply, 200, consentFor(waiting.client, waiting.validated, session, waiting.handle, csrfToken(secret, paths.consent)));
    } catch (error) {
      if (error instanceof AuthorizationPageError) return showPageError(request, reply, error);
      throw error;
    }
  });

  app.post(PAGE_PATHS.consent, async (request, reply) => {
    const form = formParams(request.body);
    if (!formIsOurs(scope, request, paths.consent, form)) return refuseForm(scope, reply, 403, ...CSRF_REFUSED);
    try {
      const waiting = await pending(form.request);
      if (!waiting) return refuseForm(scope, reply, 400, ...EXPIRED);
      const session = await resumeSession(deps.sessions, sessionCookie(request));
      if (!session) return refuseForm(scope, reply, 400, 'You are not signed in', 'Your session ended before you answered. Go back to the application and start again.');
      if (form.decision === 'deny') {
        await deps.authorizations.deleteRequest(waiting.idHash);
        return sendError(request, reply, targetOf(waiting.validated), 'access_denied', 'the user denied the request');
      }
      if (form.decision !== 'allow') return refuseForm(scope, reply, 400, 'Request not understood', 'Choose Allow or Deny.');
      const before = await deps.consents.find(session.user.id, waiting.client.clientId);
      const scopeSet = [...new Set([...(before?.scope.split(' ') ?? []), ...waiting.validated.scope])].sort();
      const claimSet = [...new Set([...(before?.claims?.split(' ') ?? []), ...claimsBeyondScope(waiting.validated)])].filter((name) => name !== '').sort();
      await deps.consents.grant({ userId: session.user.id, clientId: waiting.client.clientId, scope: scopeSet.join(' '), claims: claimSet.join(' '), grantedAt: deps.now() });
      request.log.info({ client_id: waiting.client.clientId, userId: session.user.id }, 'consent given');
      return await proceed(request, reply, waiting.validated, waiting, true);
    } catch (error) {
      if (error instanceof AuthorizationPageError) return showPageError(request, reply, error);
      throw error;
    }
  });
}

/** The waiting authorization request a sign-in page's return_to leads back to, if any. */
function waitingRequestFor(deps: Pick<AuthorizeDeps, 'issuer' | 'authorizations' | 'now'>): (returnTo: string) => Promise<ValidatedAuthorizationRequest | undefined> {
  const resume = `${new URL(deps.issuer).pathname.replace(/\/$/, '')}${PAGE_PATHS.authorizeResume}`;
  return async (returnTo) => {
    const url = new URL(returnTo, deps.issuer);
    const handle = url.searchParams.get('request');
    if (url.pathname !== resume || handle === null || !HANDLE.test(handle)) return undefined;
    const stored = await deps.authorizations.findRequest(hashToken(handle), deps.now());
    return stored && (stored.request as unknown as ValidatedAuthorizationRequest);
  };
}

/**
 * The CSP of a sign-in page that returns to a waiting authorization request: the POST ends in a
 * redirect to that request's redirect URI, which form-action must allow (SignInRouteOptions).
 */
export function cspForAuthorizationReturn(deps: Pick<AuthorizeDeps, 'issuer' | 'authorizations' | 'now'>): (returnTo: string) => Promise<string | undefined> {
  const waiting = waitingRequestFor(deps);
  return async (returnTo) => {
    const request = await waiting(returnTo);
    return request && cspAllowingFormTo(request.redirectUri);
  };
}

/** The language of a sign-in page for a waiting authorization request: from its ui_locales (OIDC Core §3.1.2.1). */
export function languageForAuthorizationReturn(deps: Pick<AuthorizeDeps, 'issuer' | 'authorizations' | 'now'>): (returnTo: string) => Promise<string | undefined> {
  const waiting = waitingRequestFor(deps);
  return async (returnTo) => {
    const request = await waiting(returnTo);
    return request && pageLanguage(request.uiLocales);
  };
}
