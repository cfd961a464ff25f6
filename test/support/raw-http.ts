/**
 * HTTP requests fetch() cannot make: from a chosen loopback address (a distinct client IP for
 * the server), with oversized headers, each on its own connection.
 */
import { request } from 'node:http';
import { randomInt } from 'node:crypto';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = any>(): T;
}

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Source address of the connection; any 127.x.y.z works on Linux. */
  localAddress?: string;
}

export function rawRequest(url: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        headers: options.headers,
        localAddress: options.localAddress,
        // A fresh connection each time: the server closes one after a 431, and a kept-alive
        // socket would make the next request fail with "socket hang up".
        agent: false,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** POSTs a GraphQL operation as JSON. */
export function rawGql(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  options: Omit<RawRequestOptions, 'body' | 'method'> = {},
) {
  return rawRequest(url, {
    ...options,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify({ query, variables }),
  });
}

/** A random loopback address, so counters keyed by client IP start fresh even on a shared Redis. */
export const randomLoopback = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/** A random private address, for X-Forwarded-For. */
export const randomPrivateIp = () => `10.${randomInt(0, 256)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
