// Error context chains in the style of upstream's anyhow: "Importing: Layer sha256:…: cause".

/** Wraps `cause` with a context message; the message reads `context: cause`. */
export class ContextError extends Error {
  readonly context: string;
  constructor(context: string, cause: unknown) {
    super(`${context}: ${messageOf(cause)}`, { cause });
    this.name = 'ContextError';
    this.context = context;
    const code = (cause as { code?: unknown } | null)?.code;
    if (code !== undefined) (this as { code?: unknown }).code = code;
  }
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Runs `fn`, prefixing any error it throws with `context`. */
export async function withContext<T>(context: string, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new ContextError(context, e);
  }
}
