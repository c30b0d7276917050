import { ADMIN_SCOPE_VALUES } from '../../admin/scopes.js';
import { clientUnusable } from '../../client-auth/client-state.js';
import { parameterValues } from '../../http/form-body.js';
import type { StoredClient } from '../../storage/client-repository.js';
import { checkAcrValues, checkClaims, checkEssentialAcr } from './claims-checks.js';
import { distinctResources, unconfiguredResourceProblem } from '../../tokens/resource-indicators.js';
import { AuthorizationPageError, AuthorizationRedirectError, redirectError, type ErrorTarget } from './errors.js';
import { PROMPT_VALUES, RESPONSE_MODES, type AuthorizationParams, type PromptValue, type ResponseMode, type ValidatedAuthorizationRequest } from './request.js';

/**
 * The checks of an authorization request, in the order they run; each one rule, each named after
 * it. The first two decide whether the client may be told anything at all (errors before that
 * are pages); the others answer at the redirect URI.
 */

/** state and nonce are echoed, not interpreted; long enough for any sane client, not for abuse. */
const MAX_ECHOED_LENGTH = 2048;
/** RFC 7636 §4.2: BASE64URL(SHA-256(verifier)) is exactly 43 characters. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

const NO_CLIENT = 'Unknown application';

/** client_id names a registered client that may be used now (not disabled, not expired). */
export function checkClient(clientId: string | undefined, client: StoredClient | undefined, now: number): StoredClient {
  if (clientId === undefined) throw new AuthorizationPageError(NO_CLIENT, 'The request does not say which application it comes from (client_id is missing).', 'client_id missing');
  if (!client) throw new AuthorizationPageError(NO_CLIENT, 'The application that sent you here is not registered with this server.', 'unknown client_id');
  const unusable = clientUnusable(client, now);
  if (unusable !== undefined) throw new AuthorizationPageError('Application unavailable', 'The application that sent you here cannot be used at the moment.', unusable);
  return client;
}

/**
 * redirect_uri is one of the client's registered ones, compared as strings (RFC 9700 §4.1.3: no
 * pattern, no normalisation). It may be left out only when the client registered exactly one
 * (RFC 6749 §3.1.2.3); OpenID Connect requests must send it (checkOpenIdRedirectUri).
 */
export function checkRedirectUri(params: AuthorizationParams, client: StoredClient): { redirectUri: string; given: boolean } {
  const registered = (client.metadata.redirect_uris as string[] | undefined) ?? [];
  const given = params.redirect_uri;
  if (given === undefined) {
    if (registered.length === 1) return { redirectUri: registered[0]!, given: false };
    throw new AuthorizationPageError('Invalid redirect address', 'The request does not say where to send you back (redirect_uri is missing), and the application registered more than one address.', 'redirect_uri missing');
  }
  if (!registered.includes(given)) {
    throw new AuthorizationPageError('Invalid redirect address', 'The address the application asked to send you back to is not one it registered. You have not been sent anywhere.', 'redirect_uri not registered');
  }
  return { redirectUri: given, given: true };
}

/** response_mode: query (the default of the code flow) or form_post; read first so errors use it. */
export function checkResponseMode(params: AuthorizationParams): { responseMode: ResponseMode; problem?: string } {
  const mode = params.response_mode;
  if (mode === undefined) return { responseMode: 'query' };
  if ((RESPONSE_MODES as readonly string[]).includes(mode)) return { responseMode: mode as ResponseMode };
  return { responseMode: 'query', problem: `response_mode ${mode.slice(0, 40)} is not supported; use one of: ${RESPONSE_MODES.join(', ')}` };
}

/** Request objects are not supported yet (OIDC Core §6): each has its named error. */
export function checkRequestObject(params: AuthorizationParams): void {
  if (params.request !== undefined) throw redirectError('request_not_supported', 'request objects are not supported; send the parameters in the query or form');
  if (params.request_uri !== undefined) throw redirectError('request_uri_not_supported', 'request_uri is not supported; send the parameters in the query or form');
}

/** response_type=code only (RFC 9700 §2.1.2), and the client registered it. */
export function checkResponseType(params: AuthorizationParams, client: StoredClient): void {
  const responseType = params.response_type;
  if (responseType === undefined) throw redirectError('invalid_request', 'response_type is required');
  if (responseType !== 'code') throw redirectError('unsupported_response_type', `response_type ${responseType.slice(0, 40)} is not supported; use code`);
  const registered = (client.metadata.response_types as string[] | undefined) ?? [];
  if (!registered.includes('code') || !((client.metadata.grant_types as string[] | undefined) ?? []).includes('authorization_code')) {
    throw redirectError('unauthorized_client', 'the client is not registered for response_type code');
  }
}

/**
 * scope: within what the client registered (or, when it registered none, what the server
 * supports); openid is always allowed when the server supports it. Admin scopes never come from a
 * user's authorization. No scope means the client's registered scope.
 */
export function checkScope(params: AuthorizationParams, client: StoredClient, scopesSupported: readonly string[]): string[] {
  const registered = typeof client.metadata.scope === 'string' ? client.metadata.scope.split(' ') : undefined;
  const allowed = new Set([...(registered ?? scopesSupported), ...(scopesSupported.includes('openid') ? ['openid'] : [])]);
  const requested = params.scope === undefined ? (registered ?? []) : [...new Set(params.scope.split(' ').filter((s) => s !== ''))];
  if (requested.length === 0) throw redirectError('invalid_scope', 'scope is required (the client registered none to default to)');
  const refused = requested.filter((s) => !allowed.has(s) || ADMIN_SCOPE_VALUES.includes(s));
  if (refused.length > 0) throw redirectError('invalid_scope', `scope ${refused.join(' ').slice(0, 100)} is not registered for this client`);
  return requested;
}

/** OIDC Core §3.1.2.1: an OpenID Connect request names its redirect_uri. */
export function checkOpenIdRedirectUri(scope: readonly string[], redirectUriGiven: boolean): void {
  if (scope.includes('openid') && !redirectUriGiven) throw redirectError('invalid_request', 'redirect_uri is required in OpenID Connect requests');
}

/**
 * PKCE (RFC 7636, RFC 9700 §2.1.1): S256 only — `plain`, and a challenge without a method (which
 * means plain), are refused; required for clients that do not authenticate (`none`).
 */
export function checkPkce(params: AuthorizationParams, client: StoredClient): string | undefined {
  const challenge = params.code_challenge;
  const method = params.code_challenge_method;
  if (challenge === undefined) {
    if (method !== undefined) throw redirectError('invalid_request', 'code_challenge_method was sent without code_challenge');
    if (client.metadata.token_endpoint_auth_method === 'none') throw redirectError('invalid_request', 'PKCE is required for this client: send code_challenge with code_challenge_method S256');
    return undefined;
  }
  if (method !== 'S256') throw redirectError('invalid_request', `code_challenge_method ${method === undefined ? 'missing (plain)' : method.slice(0, 20)} is not supported; use S256`);
  if (!S256_CHALLENGE.test(challenge)) throw redirectError('invalid_request', 'code_challenge is not a BASE64URL-encoded SHA-256 hash (43 characters)');
  return challenge;
}

/** prompt: none, login, consent; none alone (OIDC Core §3.1.2.1). select_account is not offered. */
export function checkPrompt(params: AuthorizationParams): PromptValue[] {
  if (params.prompt === undefined) return [];
  const values = [...new Set(params.prompt.split(' ').filter((s) => s !== ''))];
  const unknown = values.filter((v) => !(PROMPT_VALUES as readonly string[]).includes(v));
  if (unknown.length > 0) throw redirectError('invalid_request', `prompt ${unknown.join(' ').slice(0, 40)} is not supported; use none, login or consent`);
  if (values.includes('none') && values.length > 1) throw redirectError('invalid_request', 'prompt none cannot be combined with other values');
  return values as PromptValue[];
}

/** max_age: a non-negative integer of seconds; else the client's default_max_age (OIDC Registration §2). */
export function checkMaxAge(params: AuthorizationParams, client: StoredClient): number | undefined {
  if (params.max_age === undefined) return typeof client.metadata.default_max_age === 'number' ? client.metadata.default_max_age : undefined;
  if (!/^\d{1,10}$/.test(params.max_age)) throw redirectError('invalid_request', 'max_age must be a non-negative integer of seconds');
  return Number(params.max_age);
}

/** resource (RFC 8707 §2), repeatable: each one the operator configured (RESOURCE_INDICATORS). */
export function checkResource(params: AuthorizationParams, configured: readonly string[]): string[] {
  const requested = parameterValues(params, 'resource');
  const problem = unconfiguredResourceProblem(requested, configured);
  if (problem !== undefined) throw redirectError('invalid_target', problem);
  return distinctResources(requested);
}

/** state and nonce are echoed back as they came; only their length is limited. */
export function checkEchoedValues(params: AuthorizationParams): void {
  for (const name of ['nonce', 'login_hint', 'ui_locales'] as const) {
    if ((params[name]?.length ?? 0) > MAX_ECHOED_LENGTH) throw redirectError('invalid_request', `${name} is longer than ${MAX_ECHOED_LENGTH} characters`);
  }
}

/**
 * Runs the checks. Throws AuthorizationPageError (show a page) before the redirect URI is trusted;
 * after that, errors come back as `{ error, target }` to be sent to the client.
 */
export function validateAuthorizationRequest(
  params: AuthorizationParams,
  client: StoredClient,
  options: { scopesSupported: readonly string[]; resourceIndicators: readonly string[]; now: number },
): ValidatedAuthorizationRequest {
  const { redirectUri, given } = checkRedirectUri(params, client);
  const { responseMode, problem } = checkResponseMode(params);
  const target: ErrorTarget = { redirectUri, responseMode, ...(params.state !== undefined ? { state: params.state } : {}) };
  try {
    if (params.state !== undefined && params.state.length > MAX_ECHOED_LENGTH) {
      // not echoed: a client that sends this much is not asking for it back
      delete target.state;
      throw redirectError('invalid_request', `state is longer than ${MAX_ECHOED_LENGTH} characters`);
    }
    checkRequestObject(params);
    checkResponseType(params, client);
    if (problem !== undefined) throw redirectError('invalid_request', problem);
    const scope = checkScope(params, client, options.scopesSupported);
    checkOpenIdRedirectUri(scope, given);
    const codeChallenge = checkPkce(params, client);
    const resources = checkResource(params, options.resourceIndicators);
    const prompt = checkPrompt(params);
    const maxAge = checkMaxAge(params, client);
    checkEchoedValues(params);
    const claims = checkClaims(params);
    checkAcrValues(params, client);
    checkEssentialAcr(claims);
    return {
      clientId: client.clientId,
      redirectUri,
      redirectUriGiven: given,
      responseMode,
      scope,
      ...(params.state !== undefined ? { state: params.state } : {}),
      ...(params.nonce !== undefined ? { nonce: params.nonce } : {}),
      ...(codeChallenge !== undefined ? { codeChallenge } : {}),
      ...(resources.length > 0 ? { resources } : {}),
      prompt,
      ...(maxAge !== undefined ? { maxAge } : {}),
      authTimeRequired: params.max_age !== undefined || maxAge !== undefined || client.metadata.require_auth_time === true,
      ...(params.login_hint !== undefined ? { loginHint: params.login_hint } : {}),
      ...(params.ui_locales !== undefined ? { uiLocales: params.ui_locales } : {}),
      ...(claims !== undefined ? { claims } : {}),
      receivedAt: options.now,
    };
  } catch (error) {
    if (error instanceof AuthorizationRedirectError) error.target = target;
    throw error;
  }
}
