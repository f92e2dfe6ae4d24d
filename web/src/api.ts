// The REST API as the pages call it: the session's bearer token on every request, the tenant a super admin
// picked in X-Alto-Customer-Id, and every answer that is not 2xx turned into an ApiError carrying the server's
// own code and message, so a page shows why the API refused rather than a bare status.

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly field?: string) {
    super(message);
  }
}

const tokenKey = "alto.session";
const tenantKey = "alto.tenant";

export const credentials = {
  token(): string | null {
    return sessionStorage.getItem(tokenKey);
  },
  setToken(token: string | null) {
    if (token === null) sessionStorage.removeItem(tokenKey);
    else sessionStorage.setItem(tokenKey, token);
  },
  tenant(): string | null {
    return sessionStorage.getItem(tenantKey);
  },
  setTenant(customerID: string | null) {
    if (customerID === null) sessionStorage.removeItem(tenantKey);
    else sessionStorage.setItem(tenantKey, customerID);
  },
};

/// Called when the API answers 401: the session ended, so the app goes back to the sign-in page.
let onSignedOut: () => void = () => {};
export function whenSignedOut(handler: () => void) {
  onSignedOut = handler;
}

export type Query = Record<string, string | number | undefined | null>;

export function withQuery(path: string, query: Query = {}): string {
  const parameters = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") parameters.set(name, String(value));
  }
  const text = parameters.toString();
  return text ? `${path}?${text}` : path;
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = credentials.token();
  if (token) headers["Authorization"] = `Bearer ${token}`;
  const tenant = credentials.tenant();
  if (tenant) headers["X-Alto-Customer-Id"] = tenant;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (response.ok) return response;
  let code = "http_" + response.status;
  let message = response.statusText || `HTTP ${response.status}`;
  let field: string | undefined;
  try {
    const answer = (await response.json()) as { error?: { code?: string; message?: string; field?: string } };
    code = answer.error?.code ?? code;
    message = answer.error?.message ?? message;
    field = answer.error?.field;
  } catch {
    // The body was not the API's JSON error; the status says enough.
  }
  if (response.status === 401 && path !== "/api/v1/sessions") onSignedOut();
  throw new ApiError(response.status, code, message, field);
}

export const api = {
  async get<T>(path: string, query?: Query): Promise<T> {
    return (await (await send("GET", withQuery(path, query))).json()) as T;
  },
  async text(path: string, query?: Query): Promise<string> {
    return (await send("GET", withQuery(path, query))).text();
  },
  async post<T>(path: string, body?: unknown, query?: Query): Promise<T> {
    const response = await send("POST", withQuery(path, query), body ?? {});
    return (response.status === 204 ? undefined : await response.json()) as T;
  },
  async put<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return (await (await send("PUT", withQuery(path, query), body)).json()) as T;
  },
  async patch<T>(path: string, body: unknown): Promise<T> {
    return (await (await send("PATCH", path, body)).json()) as T;
  },
  async delete(path: string): Promise<void> {
    await send("DELETE", path);
  },
};
