// The dashboard's JSON API (serving/dashboard/app.py), always on this server under /ui/api/.

const KEY_STORAGE = "tradecast.apiKey"; // sessionStorage: gone when the browser session ends
export const API_BASE = `${import.meta.env.BASE_URL}api/`;

export function apiKey(): string {
  return sessionStorage.getItem(KEY_STORAGE) ?? "";
}

export function setApiKey(key: string): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field?: string,
  ) {
    super(message);
  }
}

async function answer<T>(response: Response): Promise<T> {
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(body.error ?? `HTTP ${response.status}`, response.status, body.field);
  }
  return body as T;
}

export async function getJSON<T>(path: string): Promise<T> {
  return answer<T>(await fetch(API_BASE + path));
}

export async function postJSON<T>(path: string, body: unknown = {}): Promise<T> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  const key = apiKey();
  if (key) headers["x-api-key"] = key;
  return answer<T>(
    await fetch(API_BASE + path, { method: "POST", headers, body: JSON.stringify(body) }),
  );
}

export function eventsURL(path: string): string {
  return API_BASE + path;
}
