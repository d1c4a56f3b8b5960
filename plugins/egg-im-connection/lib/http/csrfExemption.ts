import type { Context } from 'egg';

type PathPattern = string | RegExp | ((ctx: Context) => boolean);

/**
 * egg-im's API authenticates with a bearer token in a header, which a browser never sends on its own: CSRF
 * tokens do not apply to it. The exemption is added to the host app's own `security.csrf.ignore` (config
 * merging would let the host's replace it); the host's pages keep Egg's CSRF protection. A host that scopes
 * CSRF with `match` instead decides for itself which paths are checked.
 */
export function exemptApiFromCsrf(csrf: { match?: unknown; ignore?: PathPattern | PathPattern[] } | undefined, prefix: string): void {
  if (!csrf || csrf.match) return;
  const underApi = (ctx: Context) => ctx.path.startsWith(prefix + '/');
  const own = csrf.ignore;
  csrf.ignore = own === undefined ? underApi : [ underApi, ...(Array.isArray(own) ? own : [ own ]) ];
}
