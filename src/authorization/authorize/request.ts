import type { ClaimsRequest } from '../../protocol/claims-request.js';

/** Prompt values of OIDC Core §3.1.2.1 this server acts on. */
export const PROMPT_VALUES = ['none', 'login', 'consent'] as const;
export type PromptValue = (typeof PROMPT_VALUES)[number];

/** Response modes served (OAuth 2.0 Multiple Response Types, Form Post Response Mode). */
export const RESPONSE_MODES = ['query', 'form_post'] as const;
export type ResponseMode = (typeof RESPONSE_MODES)[number];

/** PKCE methods served: S256 only (RFC 9700 §2.1.1 — plain protects nothing the code does not). */
export const CODE_CHALLENGE_METHODS = ['S256'] as const;

/**
 * An authorization request that passed every check: what the interactions and the code need.
 * Plain JSON, so that it can wait in the database while the user signs in or consents.
 */
export interface ValidatedAuthorizationRequest {
  clientId: string;
  redirectUri: string;
  /** Whether the request named redirect_uri (it may be left out when exactly one is registered). */
  redirectUriGiven: boolean;
  responseMode: ResponseMode;
  /** Requested scopes, duplicates removed, in the order asked. */
  scope: string[];
  state?: string;
  nonce?: string;
  codeChallenge?: string;
  /** The resources named (RFC 8707), each configured; absent when none (and in requests parked before). */
  resources?: string[];
  prompt: PromptValue[];
  /** max_age of the request, else the client's default_max_age. */
  maxAge?: number;
  /** auth_time goes into the ID token: max_age was sent, or the client registered require_auth_time. */
  authTimeRequired: boolean;
  loginHint?: string;
  uiLocales?: string;
  /** The claims parameter (OIDC Core §5.5), when it asks for a claim this server knows. */
  claims?: ClaimsRequest;
  /** When the request arrived: a sign-in after this satisfies prompt=login and max_age. */
  receivedAt: number;
}

/** Parameters of one authorization request, from the query (GET) or the form (POST). */
export type AuthorizationParams = Readonly<Record<string, string>>;
