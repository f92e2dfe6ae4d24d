import { ApiError } from "../api";

/// An error as the user reads it: the API's message, and the field it names.
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const detail = error instanceof ApiError ? ` (${error.code}${error.field ? `, ${error.field}` : ""})` : "";
  return (
    <p className="error" role="alert">
      {message}
      {detail}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted">Loading {what}…</p>;
}
