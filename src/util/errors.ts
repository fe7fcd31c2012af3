/** What went wrong, as one line, whatever was thrown (an Error, a string, anything else). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** The message of `err` followed by its cause's message, when it has one (LevelDB hides the real reason there). */
export function errorWithCause(err: unknown): string {
  const cause = err instanceof Error && err.cause !== undefined ? ` (${errorMessage(err.cause)})` : "";
  return `${errorMessage(err)}${cause}`;
}
