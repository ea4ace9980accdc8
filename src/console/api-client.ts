// Why this file exists: the console reads and acts through the daemon's own HTTP API, with the
// signed-in operator's token, over loopback. So a company token sees and does in the console exactly
// what the API lets it (the API's scoping, validation and audit log apply unchanged), and the console
// never reaches into the stores.
import type { HttpServer } from '../http/server.js';

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export class ApiClient {
  constructor(
    private readonly http: HttpServer,
    private readonly token: string,
  ) {}

  private base(): string {
    const a = this.http.address();
    if (!a) throw new Error('the HTTP server is not listening');
    const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
    return `http://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
  }

  /** A raw response (downloads are streamed through). */
  fetch(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(this.base() + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      redirect: 'manual',
    });
  }

  async json<T = any>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const res = await this.fetch(method, path, body);
    const text = await res.text();
    let parsed: unknown = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { error: `unexpected answer (${res.status})` };
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get<T = any>(path: string): Promise<ApiAnswer<T>> {
    return this.json<T>('GET', path);
  }

  post<T = any>(path: string, body?: unknown): Promise<ApiAnswer<T>> {
    return this.json<T>('POST', path, body);
  }
}
