import type { Command } from 'commander';
import { addRemoteOptions, connect, type RemoteOptions } from './options.js';
import { emit } from './output.js';

/** `token`: an admin access token on standard output, for curl and other HTTP tools. */
export function registerTokenCommand(program: Command): void {
  addRemoteOptions(
    program
      .command('token')
      .description('print an admin access token (scope admin:read admin:write), reusing the cached one while it lasts')
      .option('--renew', 'ask the server for a new token even if the cached one is still good')
      .addHelpText('after', '\nExample:\n  curl -H "Authorization: Bearer $(oidc-registrar token)" http://localhost:8080/admin/clients'),
  ).action(async (options: RemoteOptions & { renew?: boolean }) => {
    const { tokens } = await connect(options);
    const token = options.renew === true ? await tokens.renew() : await tokens.get();
    const expiresIn = token.expires_at - Math.floor(Date.now() / 1000);
    emit(options.json, { access_token: token.access_token, token_type: token.token_type, expires_in: expiresIn, scope: token.scope }, () => token.access_token);
  });
}
