// The bot's statement goes through pg-cursor and nothing else. pg-cursor always speaks the
// extended protocol (Parse/Bind/Describe/Execute), even without parameters, and a Parse message
// holds exactly one statement: `SELECT 1; DELETE FROM t` is refused by PostgreSQL itself, whatever
// the parser upstream believed. (client.query without params would use the simple protocol, which
// runs every statement in the string.) The Execute message carries a row limit, so a huge result
// is never fetched: at most maxRows + 1 rows cross the wire, the extra one only proving there are more.
import type { FieldDef, PoolClient } from 'pg';
import Cursor from 'pg-cursor';
import type { Param } from './request.ts';
import { resultTypes } from './values.ts';

export interface RowsRead {
  readonly fields: readonly FieldDef[];
  readonly rows: readonly unknown[][];
  readonly truncated: boolean;
  /** From CommandComplete; null when the portal was suspended (truncated) or the query was empty. */
  readonly command: string | null;
  readonly rowCount: number | null;
}

export async function readRows(client: PoolClient, sql: string, params: readonly Param[], maxRows: number): Promise<RowsRead> {
  const cursor = client.query(new Cursor<unknown[]>(sql, [...params], { rowMode: 'array', types: resultTypes }));
  const { rows, result } = await new Promise<{ rows: unknown[][]; result: { fields: FieldDef[]; command: string | null; rowCount: number | null } }>(
    (resolve, reject) => {
      // The callback form, unlike the promise form, hands over the result with CommandComplete's tag.
      cursor.read(maxRows + 1, (err, rows, result) => (err ? reject(err) : resolve({ rows, result })));
    },
  );
  if (rows.length > maxRows) {
    // The portal is suspended, not finished: close it so the transaction can end.
    await cursor.close();
    return { fields: result.fields, rows: rows.slice(0, maxRows), truncated: true, command: null, rowCount: null };
  }
  return { fields: result.fields, rows, truncated: false, command: result.command, rowCount: result.rowCount };
}
