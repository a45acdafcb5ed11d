// Row (a) of `npm run bench`: a bare node:http server answering a fixed JSON body, the ceiling of
// this machine for the load process and the kernel. Listens on PORT and prints "listening".
import { Buffer } from 'node:buffer';
import http from 'node:http';

const body = Buffer.from(JSON.stringify({ data: 'Pong!' }));
const server = http.createServer((request, response) => {
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  response.end(body);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.stdout.write('{"msg":"listening"}\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
