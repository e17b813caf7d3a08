// What SessionLog.list takes (shared/ports.ts re-exports it).

export interface SessionQuery {
  readonly from?: Date;
  readonly to?: Date;
  readonly limit?: number;
  /** Return sessions strictly after this one in the listing order (startedAt, sessionId). */
  readonly after?: string;
  /** Only sessions whose request came from this subject. */
  readonly subject?: string;
}
