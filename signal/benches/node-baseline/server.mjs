// The original demo's signaling server (../../../../shared/seed/, the blog
// post Peercall grew from), as the baseline of `signal/benches/relay.rs`.
//
// Its WebSocket path as the demo has it: a random client id
// (`Math.random().toString(36).substring(2, 9)`), the welcome
// `{"type":"join","id":…}`, and for every message `JSON.parse`, a lookup of
// `to`, and `targetSocket.send(JSON.stringify({ ...data, from: clientId }))`;
// upgrades from an origin outside the allow-list get 403.
//
// Left out, none of it on the relay path: Koa and its CORS middleware (they
// answer plain HTTP requests; upgrades go to the `upgrade` handler below,
// as in the demo, so a bare `http` server stands in for Koa), and the
// console log line per connect and disconnect. Changed for the bench: the
// port and the allowed origin come from the environment, and the address is
// printed as the first line on stdout.
import http from "node:http";
import { WebSocketServer, WebSocket } from "ws";

const allowedOrigins = [process.env.ALLOWED_ORIGIN || "http://localhost:2000"];
const port = Number(process.env.PORT || 7777);

const wss = new WebSocketServer({ noServer: true });
const clients = new Map();

wss.on("connection", (socket) => {
  const clientId = Math.random().toString(36).substring(2, 9);
  clients.set(clientId, socket);
  socket.on("message", (message) => {
    const data = JSON.parse(message.toString());
    const { to } = data;
    if (clients.has(to)) {
      const targetSocket = clients.get(to);
      if (targetSocket && targetSocket.readyState === WebSocket.OPEN) {
        targetSocket.send(JSON.stringify({ ...data, from: clientId }));
      }
    }
  });
  socket.on("close", () => {
    clients.delete(clientId);
  });
  socket.send(JSON.stringify({ type: "join", id: clientId }));
});

const server = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end("Not Found");
});

server.on("upgrade", (request, socket, head) => {
  const origin = request.headers.origin;
  if (!origin || !allowedOrigins.includes(origin)) {
    socket.write("HTTP/1.1 403 Forbidden\r\n\r\n");
    socket.destroy();
    return;
  }
  wss.handleUpgrade(request, socket, head, (ws) => {
    wss.emit("connection", ws, request);
  });
});

server.listen(port, "127.0.0.1", () => {
  console.log(`listening on ws://127.0.0.1:${server.address().port}/`);
});

process.on("SIGTERM", () => process.exit(0));
