/**
 * Reading an HTTP request body from a client that may be hostile (`serve`'s OCSP, the EST service):
 * never more than a limit, and a refused client's connection closed without losing the answer.
 */
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * The request body, or undefined past `limit`: then reading stops at once (the answer is 413 and
 * the connection closes), so a client cannot make the server read, or hold, more.
 */
export function readBoundedBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers["content-length"] ?? 0) > limit) return resolve(undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) return void chunks.push(c);
      req.off("data", onData);
      req.pause();
      resolve(undefined);
    };
    req.on("data", onData);
    req.on("end", () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * Close the connection once the answer is out (a 413): half-close and discard what still arrives
 * for a moment, since closing with unread data would reset the connection and could lose the answer.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.shouldKeepAlive = false;
  res.once("finish", () => {
    req.socket.end();
    req.resume();
    setTimeout(() => req.socket.destroy(), 1_000).unref();
  });
}
