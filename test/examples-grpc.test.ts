// The grpc example (examples/grpc): a @grpc/grpc-js client through meshlet's h2c listener and
// gRPC route to two grpc-js servers: unary calls balanced, trailers and status codes kept,
// server streaming.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startExample, tour, type Example } from '../examples/grpc/main.ts';

let example: Example;
beforeAll(async () => {
  example = await startExample(0);
});
afterAll(async () => {
  await example.close();
});

it('examples/grpc: unary calls round-robin over both instances, NOT_FOUND and a stream pass through', async () => {
  const lines = await tour(example.target, example.mesh);
  const unary = lines.slice(0, 4);
  const names = ['apple', 'apricot', 'banana', 'blueberry'];
  unary.forEach((line, i) => {
    expect(line).toMatch(
      new RegExp(
        `^GetItem\\(${i + 1}\\) +→ ${names[i]} from instance ([ab]) \\(trailer x-served-by: \\1\\)$`,
      ),
    );
  });
  const instances = unary.map((l) => /instance ([ab])/.exec(l)?.[1]);
  expect(new Set(instances)).toEqual(new Set(['a', 'b']));
  expect(lines[4]).toMatch(/^GetItem\(9\) +→ NOT_FOUND: no item 9$/);
  expect(lines[5]).toMatch(/^ListItems\("b"\) \(stream\) +→ banana, blueberry$/);
  expect(lines[6]).toMatch(/→ catalog upstream_rq_total 6$/);
});
