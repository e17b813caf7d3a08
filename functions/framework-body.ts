// The Functions Framework parses JSON bodies before any handler runs, and answers a malformed one
// itself with Express's HTML error page: a 400 without our error code, and — since Gatehouse never
// sees the request — without a session even for an authenticated caller. Its parser keeps the raw
// bytes (req.rawBody, through its `verify` hook) before it parses them, so a parse failure can
// simply be let through: the handler parses rawBody itself (functions/http.ts readJsonBody) and
// answers `invalid_json`, recorded, exactly as the local server does. Any other body error (an
// unsupported charset) is still the framework's.
//
// This patches the body-parser instance the framework requires (pinned: functions-framework 5.0.5,
// body-parser 2.x), before the framework builds its server — it loads our module first.
import { createRequire } from 'node:module';

type Next = (err?: unknown) => void;
type Middleware = (req: unknown, res: unknown, next: Next) => void;
interface BodyParser {
  json: (options?: unknown) => Middleware;
  [PATCHED]?: true;
}
const PATCHED = Symbol.for('gatehouse.tolerateMalformedJson');

export function tolerateMalformedJson(): void {
  const fromFramework = createRequire(createRequire(import.meta.url).resolve('@google-cloud/functions-framework'));
  const bodyParser = fromFramework('body-parser') as BodyParser;
  if (bodyParser[PATCHED]) return;
  const json = bodyParser.json;
  bodyParser.json = (options) => {
    const parse = json(options);
    return (req, res, next) => parse(req, res, (err) => next(isParseFailure(err) ? undefined : err));
  };
  bodyParser[PATCHED] = true;
}

function isParseFailure(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { type?: unknown }).type === 'entity.parse.failed';
}
