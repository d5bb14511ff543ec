// Starting and stopping a real offerd (and a second-origin static server) for the browser tests.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, readFileSync } from "node:fs";
import { createServer, request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, "..", "..");
export const offerdBin = process.env.OFFERD_BIN || join(repoRoot, "build", "src", "server", "offerd");

// Starts `offerd --demo` on 127.0.0.1:0 with a fresh SQLite file; resolves once it prints its
// address. The caller stops it with stop() (SIGTERM, then SIGKILL after 10 s).
export async function startOfferd(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), "offerd-browser-"));
  const args = ["--bind", "127.0.0.1", "--port", "0", "--db", join(dir, "demo.db"), "--demo",
                "--rate-limit", "0", ...extraArgs];
  const child = spawn(offerdBin, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr += d; });
  const baseUrl = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`offerd did not start in 20 s:\n${stderr}`)), 20000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`offerd exited ${code}:\n${stderr}`)); });
  });
  child.stdout.resume();
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  return {
    baseUrl,
    log: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
      const result = await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      return result;
    },
  };
}

// The demo users' tokens, as the page gets them.
export async function demoSession(baseUrl) {
  const res = await fetch(`${baseUrl}/demo/session`);
  if (!res.ok) throw new Error(`/demo/session: ${res.status}`);
  const { users } = await res.json();
  return Object.fromEntries(users.map((u) => [u.id.replace(/^demo_/, ""), u.token]));
}

export async function api(baseUrl, token, method, path, body) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${data && data.error}`);
  return data;
}

// A second origin: a static server for a page and the JS client, as a frontend on another host
// would be. Listens on 127.0.0.1:0.
export async function startStaticSite(files) {
  const server = createServer((req, res) => {
    const f = files[req.url.split("?")[0]];
    if (!f) { res.writeHead(404).end(); return; }
    res.writeHead(200, { "Content-Type": f.type, "Cache-Control": "no-store" }).end(f.body);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return { port, origin: `http://127.0.0.1:${port}`, stop: () => new Promise((r) => server.close(r)) };
}

export function readClientModule() {
  return readFileSync(join(repoRoot, "clients", "js", "src", "offer-updates.js"), "utf8");
}

// A reverse proxy in front of offerd that passes HTTP (streams included, unbuffered) but refuses
// every WebSocket upgrade with 403, as a corporate proxy without WebSocket support does. The page
// is then loaded from the proxy's origin. Listens on 127.0.0.1:0.
export async function startUpgradeRefusingProxy(targetBaseUrl) {
  const target = new URL(targetBaseUrl);
  const upgrades = [];
  const server = createServer((req, res) => {
    const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url,
                                   headers: { ...req.headers, host: target.host } }, (up) => {
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  server.on("upgrade", (req, socket) => {
    upgrades.push(req.url);
    socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    upgrades,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
  };
}
