/** R0: raw node:http answering POST /graphql with the fixed bytes of `{ __typename }`'s response. */
import { createServer } from 'node:http';
import { announce } from '../lib/child';

const body = Buffer.from(JSON.stringify({ data: { __typename: 'Query' } }));

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    response.end(body);
  });
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  announce(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/graphql`);
});
