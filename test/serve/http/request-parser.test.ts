/**
 * The request parser on its own: bytes in, steps out. Every case is also fed
 * one byte at a time, so a request split anywhere by TCP parses the same.
 */
import { describe, expect, it } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { CHUNK_FRAMING_SLACK_BYTES, RequestParser, type ParseStep, type ParsedRequest } from '../../../src/serve/http/request-parser.js';

const LIMITS = { maxHeaderBytes: 1024, maxBodyBytes: 100 };

/** All steps that `bytes` produce, fed whole or byte by byte, pulling after every feed. */
function steps(bytes: string | Buffer, byteByByte = false, limits = LIMITS): ParseStep[] {
  const parser = new RequestParser(limits);
  const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  const out: ParseStep[] = [];
  const pull = () => {
    for (;;) {
      const step = parser.next();
      if (step.type === 'more') return;
      out.push(step);
      if (step.type === 'reject') return;
    }
  };
  if (byteByByte) {
    for (let i = 0; i < data.length; i++) {
      parser.feed(data.subarray(i, i + 1));
      pull();
    }
  } else {
    parser.feed(data);
    pull();
  }
  return out;
}

/** The requests `bytes` hold, checked to parse identically whole and byte by byte. */
function requests(bytes: string, limits = LIMITS): ParsedRequest[] {
  const whole = steps(bytes, false, limits);
  const split = steps(bytes, true, limits);
  const pick = (s: ParseStep[]) => s.flatMap((x) => (x.type === 'request' ? [x.request] : []));
  expect(whole.filter((s) => s.type === 'reject')).toEqual([]);
  expect(pick(split).map(summary)).toEqual(pick(whole).map(summary));
  return pick(whole);
}

function summary(r: ParsedRequest) {
  return { ...r.head, query: r.head.query.toString(), headers: { ...r.head.headers }, body: r.body.toString('latin1') };
}

/** The rejection `bytes` get, the same whole and byte by byte. */
function rejection(bytes: string, limits = LIMITS): { status: number; message: string } {
  const results = [steps(bytes, false, limits), steps(bytes, true, limits)].map((s) => {
    const last = s[s.length - 1];
    if (last?.type !== 'reject') throw new Error(`not rejected: ${JSON.stringify(s.map((x) => x.type))}`);
    return { status: last.status, message: last.message };
  });
  expect(results[1]).toEqual(results[0]);
  return results[0]!;
}

const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\nHost: h\r\n${extra}\r\n`;

describe('request line and target', () => {
  it('takes any token as a method, LIST included, and keeps the target as sent', () => {
    const [r] = requests('LIST /v1/secret/metadata/app?list=true HTTP/1.1\r\nHost: h\r\n\r\n');
    expect(r!.head.method).toBe('LIST');
    expect(r!.head.target).toBe('/v1/secret/metadata/app?list=true');
    expect(r!.head.path).toBe('/v1/secret/metadata/app');
    expect(r!.head.query.get('list')).toBe('true');
    expect(r!.body.length).toBe(0);
  });

  it('percent-decodes the path exactly once, the query by its own rules', () => {
    const [r] = requests(get('/v1/secret/data/a%20b%2Fc%252F%40?x=a%20b+c'));
    expect(r!.head.path).toBe('/v1/secret/data/a b/c%2F@');
    expect(r!.head.query.get('x')).toBe('a b c');
  });

  it('absolute-form targets give their path', () => {
    expect(requests(get('http://127.0.0.1:8200/v1/sys/health?standbyok=true'))[0]!.head.path).toBe('/v1/sys/health');
    expect(requests(get('HTTPS://host'))[0]!.head.path).toBe('/');
  });

  it('refuses invalid and control-producing escapes with 400', () => {
    for (const target of ['/v1/a%zz', '/v1/a%2', '/v1/a%', '/v1/%ff', '/v1/a%00b', '/v1/a%0Ab', '/v1/%7f']) {
      expect(rejection(get(target))).toEqual({ status: 400, message: 'invalid percent-encoding in the request path' });
    }
  });

  it('refuses malformed request lines with 400', () => {
    for (const line of [
      'GET /x',
      'GET  /x HTTP/1.1',
      'GET /x  HTTP/1.1',
      ' GET /x HTTP/1.1',
      'GET /x HTTP/1.1 ',
      'G(T /x HTTP/1.1',
      'G\u00e9T /x HTTP/1.1',
      'GET /a b HTTP/1.1',
      'GET /x#frag HTTP/1.1',
      'GET /x\u0001 HTTP/1.1',
      'GET /x\u00ff HTTP/1.1',
      'GET /x http/1.1',
      'GET /x HTTP/1.10',
      'GET /x HTTP/11',
      '/x HTTP/1.1',
    ]) {
      expect(rejection(`${line}\r\nHost: h\r\n\r\n`).status, line).toBe(400);
    }
  });

  it('refuses targets that are neither origin- nor absolute-form', () => {
    expect(rejection('OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n')).toEqual({ status: 400, message: 'malformed request target' });
    expect(rejection(get('x/y')).status).toBe(400);
  });

  it('answers 505 to HTTP versions other than 1.0 and 1.1', () => {
    for (const v of ['HTTP/2.0', 'HTTP/0.9', 'HTTP/1.2', 'HTTP/3.0']) expect(rejection(`GET / ${v}\r\nHost: h\r\n\r\n`).status, v).toBe(505);
  });

  it('skips empty lines before a request line', () => {
    expect(requests(`\r\n\r\n${get('/x')}`)[0]!.head.path).toBe('/x');
  });
});

describe('header fields', () => {
  it('lower-cases names, trims values, joins repeats', () => {
    const [r] = requests(get('/', 'X-Vault-Token:  tok \t\r\nAccept: a\r\naccept: b\r\nX-Empty:\r\n'));
    expect({ ...r!.head.headers }).toEqual({ host: 'h', 'x-vault-token': 'tok', accept: 'a, b', 'x-empty': '' });
  });

  it('a field named __proto__ is only a field', () => {
    const [r] = requests(get('/', '__proto__: x\r\n'));
    expect(r!.head.headers.__proto__).toBe('x');
    expect(Object.getPrototypeOf(r!.head.headers)).toBe(null);
  });

  it('refuses bare LF and bare CR line ends', () => {
    expect(rejection('GET / HTTP/1.1\nHost: h\r\n\r\n')).toEqual({ status: 400, message: 'malformed request: lines must end in CRLF' });
    expect(rejection('GET / HTTP/1.1\r\nHost: h\n\r\n').status).toBe(400);
    expect(rejection('GET / HTTP/1.1\r\nHost: h\r\n\n').status).toBe(400);
    expect(rejection('GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n').status).toBe(400);
  });

  it('refuses obsolete line folding and space before the colon', () => {
    expect(rejection(get('/', 'X-A: one\r\n two\r\n'))).toEqual({ status: 400, message: 'obsolete line folding is not accepted' });
    expect(rejection('GET / HTTP/1.1\r\n Host: h\r\n\r\n').status).toBe(400);
    expect(rejection(get('/', 'X-A : one\r\n')).status).toBe(400);
    expect(rejection(get('/', ': one\r\n')).status).toBe(400);
    expect(rejection(get('/', 'no colon\r\n')).status).toBe(400);
    expect(rejection(get('/', 'X-A: a\u0000b\r\n')).status).toBe(400);
  });

  it('HTTP/1.1 needs exactly one Host; HTTP/1.0 none', () => {
    expect(rejection('GET / HTTP/1.1\r\n\r\n')).toEqual({ status: 400, message: 'missing Host header' });
    expect(rejection(get('/', 'Host: other\r\n'))).toEqual({ status: 400, message: 'more than one Host' });
    expect(requests('GET / HTTP/1.0\r\n\r\n')[0]!.head.http10).toBe(true);
  });

  it('answers 431 to a head over the limit, even one that never ends', () => {
    const big = `X-Big: ${'a'.repeat(1100)}\r\n`;
    expect(rejection(get('/', big))).toEqual({ status: 431, message: 'request head larger than 1024 bytes' });
    expect(rejection(`GET /${'a'.repeat(2000)}`).status).toBe(431);
    // Exactly at the limit is accepted.
    const base = get('/', 'X-Pad: \r\n');
    const exact = get('/', `X-Pad: ${'p'.repeat(1024 - base.length)}\r\n`);
    expect(exact.length).toBe(1024);
    expect(requests(exact)).toHaveLength(1);
    expect(rejection(get('/', `X-Pad: ${'p'.repeat(1025 - base.length)}\r\n`)).status).toBe(431);
  });
});

describe('connection and expectations', () => {
  it('HTTP/1.1 keeps alive unless Connection: close; HTTP/1.0 closes unless keep-alive', () => {
    expect(requests(get('/'))[0]!.head.keepAlive).toBe(true);
    expect(requests(get('/', 'Connection: Close\r\n'))[0]!.head.keepAlive).toBe(false);
    expect(requests(get('/', 'Connection: upgrade, close\r\n'))[0]!.head.keepAlive).toBe(false);
    expect(requests(get('/', 'Connection: closed\r\n'))[0]!.head.keepAlive).toBe(true);
    expect(requests('GET / HTTP/1.0\r\n\r\n')[0]!.head.keepAlive).toBe(false);
    expect(requests('GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n')[0]!.head.keepAlive).toBe(true);
  });

  it('recognises Expect: 100-continue, flags other expectations, ignores Expect in HTTP/1.0', () => {
    expect(requests(get('/', 'Expect: 100-Continue\r\n'))[0]!.head.expect).toBe('continue');
    expect(requests(get('/', 'Expect: something\r\n'))[0]!.head.expect).toBe('other');
    expect(requests('GET / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n')[0]!.head.expect).toBe('none');
  });
});

describe('bodies', () => {
  it('reads a Content-Length body and leaves the next request for later', () => {
    const rs = requests(`POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello${get('/b')}`);
    expect(rs.map((r) => [r.head.method, r.head.path, r.body.toString()])).toEqual([['POST', '/a', 'hello'], ['GET', '/b', '']]);
  });

  it('a missing body or Content-Length: 0 is an empty body', () => {
    expect(requests('POST /a HTTP/1.1\r\nHost: h\r\n\r\n')[0]!.body.length).toBe(0);
    expect(requests('POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 000\r\n\r\n')[0]!.body.length).toBe(0);
  });

  it('de-chunks, with extensions and trailers, upper- and lower-case hex', () => {
    const [r] = requests('PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n'
      + '5;name=value\r\nhello\r\nA\r\n, chunked!\r\n1 ; x\r\n.\r\n0\r\nX-Trailer: t\r\n\r\n');
    expect(r!.body.toString()).toBe('hello, chunked!.');
    expect(r!.head.headers['x-trailer']).toBeUndefined();
    expect(requests('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n')[0]!.body.length).toBe(0);
  });

  it('returns a head step before the body of a request that has one', () => {
    const s = steps('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok');
    expect(s.map((x) => x.type)).toEqual(['head', 'request']);
    expect(steps(get('/')).map((x) => x.type)).toEqual(['request']);
  });

  it('refuses bodies over the limit with 413, before reading them', () => {
    expect(rejection('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n')).toEqual({ status: 413, message: 'request body larger than 100 bytes' });
    expect(rejection('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n').status).toBe(413);
    const chunked = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(rejection(`${chunked}ffffffffffffffffffffff\r\n`).status).toBe(413);
    expect(rejection(`${chunked}32\r\n${'x'.repeat(50)}\r\n33\r\n`).status).toBe(413);
    expect(requests(`${chunked}32\r\n${'x'.repeat(50)}\r\n32\r\n${'y'.repeat(50)}\r\n0\r\n\r\n`)[0]!.body.length).toBe(100);
  });

  it('refuses duplicate, conflicting or malformed Content-Length with 400', () => {
    const post = (fields: string) => `POST / HTTP/1.1\r\nHost: h\r\n${fields}\r\nabcdef`;
    expect(rejection(post('Content-Length: 3\r\nContent-Length: 3\r\n'))).toEqual({ status: 400, message: 'more than one Content-Length' });
    expect(rejection(post('Content-Length: 3\r\nContent-Length: 4\r\n')).status).toBe(400);
    for (const v of ['3, 3', '+3', '-1', '3 3', '0x3', '', '3.0']) expect(rejection(post(`Content-Length: ${v}\r\n`)).status, v).toBe(400);
  });

  it('refuses Transfer-Encoding with Content-Length (request smuggling) with 400', () => {
    const r = rejection('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(r).toEqual({ status: 400, message: 'Transfer-Encoding and Content-Length together' });
    expect(rejection('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n').status).toBe(400);
  });

  it('answers 501 to transfer codings other than chunked, 400 to chunked misapplied', () => {
    const te = (v: string, version = '1.1') => rejection(`POST / HTTP/${version}\r\nHost: h\r\nTransfer-Encoding: ${v}\r\n\r\n`);
    expect(te('gzip')).toEqual({ status: 501, message: 'only the chunked transfer coding is supported' });
    expect(te('gzip, chunked').status).toBe(501);
    expect(te('identity').status).toBe(501);
    expect(te('chunked, gzip').status).toBe(400);
    expect(te('chunked, chunked').status).toBe(400);
    expect(te('chunked,').status).toBe(400);
    expect(te('chunked', '1.0').status).toBe(400);
    expect(rejection('POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n').status).toBe(400);
  });

  it('refuses malformed chunked framing with 400', () => {
    const chunked = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';
    for (const body of ['x\r\n', '\r\n', '5\r\nhelloXX', '5\nhello\r\n0\r\n\r\n', '5 x\r\nhello\r\n', '5;a\u0001\r\nhello\r\n', '0\r\nbad trailer\r\n\r\n', '0\r\n folded: x\r\n\r\n']) {
      expect(rejection(chunked + body).status, JSON.stringify(body)).toBe(400);
    }
    expect(rejection(`${chunked}${'0'.repeat(2000)}`).status).toBe(400);
  });

  it('counts trailers against the head limit (431)', () => {
    const chunked = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';
    expect(rejection(`${chunked}0\r\nX-T: ${'t'.repeat(1100)}\r\n\r\n`).status).toBe(431);
  });

  it('stays rejected: bytes after a rejection produce nothing', () => {
    const parser = new RequestParser(LIMITS);
    parser.feed(Buffer.from('BAD\r\n\r\n'));
    expect(parser.next().type).toBe('reject');
    parser.feed(Buffer.from(get('/')));
    expect(parser.next().type).toBe('more');
  });

  it('reports progress: idle, in a head, in a body', () => {
    const parser = new RequestParser(LIMITS);
    expect(parser.inProgress).toBe(false);
    parser.feed(Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n'));
    expect(parser.next().type).toBe('more');
    expect([parser.inProgress, parser.inBody]).toEqual([true, false]);
    parser.feed(Buffer.from('\r\no'));
    expect(parser.next().type).toBe('head');
    expect(parser.next().type).toBe('more');
    expect(parser.inBody).toBe(true);
    parser.feed(Buffer.from('k'));
    expect(parser.next().type).toBe('request');
    expect([parser.inProgress, parser.inBody, parser.bufferedBytes]).toEqual([false, false, 0]);
  });

  it('empty lines before a request line do not put a request in progress', () => {
    const parser = new RequestParser(LIMITS);
    parser.feed(Buffer.from('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok\r\n'));
    expect(parser.next().type).toBe('head');
    expect(parser.next().type).toBe('request');
    expect(parser.next().type).toBe('more');
    expect(parser.inProgress).toBe(false);
    parser.feed(Buffer.from('\r\n\r'));
    expect(parser.next().type).toBe('more');
    expect(parser.inProgress).toBe(false);
    parser.feed(Buffer.from('\nG'));
    expect(parser.next().type).toBe('more');
    expect(parser.inProgress).toBe(true);
    // The skipped lines still count against the head limit.
    const flood = new RequestParser(LIMITS);
    flood.feed(Buffer.from('\r\n'.repeat(600)));
    expect(flood.next()).toMatchObject({ type: 'reject', status: 431 });
  });
});

describe('memory of a chunked body', () => {
  const chunked = 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n';

  /** Feed `parts` one at a time, pulling after each; the steps that are not 'more'. */
  function feedAll(parser: RequestParser, parts: Iterable<Buffer>): ParseStep[] {
    const out: ParseStep[] = [];
    for (const part of parts) {
      parser.feed(part);
      for (let step = parser.next(); step.type !== 'more'; step = parser.next()) {
        out.push(step);
        if (step.type === 'reject') return out;
      }
    }
    return out;
  }

  it('does not keep the socket buffers a chunk arrived in: memory stays near the data', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const limits = { maxHeaderBytes: 1024, maxBodyBytes: 4 * 1024 * 1024 };
    const parser = new RequestParser(limits);
    expect(feedAll(parser, [Buffer.from(chunked)]).map((s) => s.type)).toEqual(['head']);
    // 64 data bytes per chunk, each chunk in a read of its own whose buffer is 1 KiB (as a socket read can be).
    const chunks = limits.maxBodyBytes / 64;
    function* reads(): Generator<Buffer> {
      for (let i = 0; i < chunks; i++) {
        const wire = Buffer.from(`40\r\n${String.fromCharCode(0x41 + (i % 26)).repeat(64)}\r\n`, 'latin1');
        const read = Buffer.allocUnsafeSlow(1024).subarray(0, wire.length);
        wire.copy(read);
        yield read;
      }
    }
    gc();
    const before = process.memoryUsage();
    expect(feedAll(parser, reads())).toEqual([]);
    gc();
    const after = process.memoryUsage();
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    // The data is 4 MiB; keeping the reads (1 KiB each, and a Buffer object) would be over 70 MiB.
    expect(grown).toBeLessThan(3 * limits.maxBodyBytes);
    expect(parser.retainedBytes).toBeLessThanOrEqual(limits.maxBodyBytes + 1024);
    const [done] = feedAll(parser, [Buffer.from('0\r\n\r\n')]);
    expect(done?.type).toBe('request');
    const body = (done as Extract<ParseStep, { type: 'request' }>).request.body;
    expect(body.length).toBe(limits.maxBodyBytes);
    expect(body.subarray(0, 65).toString('latin1')).toBe(`${'A'.repeat(64)}B`);
  });

  it('refuses a body of many 1-byte chunks (413) long before its framing outweighs the limit', () => {
    const limits = { maxHeaderBytes: 1024, maxBodyBytes: 1024 * 1024 };
    const parser = new RequestParser(limits);
    let fed = 0;
    function* reads(): Generator<Buffer> {
      yield Buffer.from(chunked);
      for (let i = 0; i < limits.maxBodyBytes; i++) {
        fed++;
        yield Buffer.from('1\r\nx\r\n');
      }
    }
    const out = feedAll(parser, reads());
    const last = out[out.length - 1];
    expect(last?.type).toBe('reject');
    expect(last).toMatchObject({ status: 413 });
    expect((last as { message: string }).message).toMatch(/chunked framing too large/);
    expect(fed).toBeLessThan(CHUNK_FRAMING_SLACK_BYTES); // ~4 framing bytes more than data per chunk
    expect(parser.retainedBytes).toBe(0);
  });

  it('refuses chunks padded with long extensions (413)', () => {
    const limits = { maxHeaderBytes: 1024, maxBodyBytes: 1024 * 1024 };
    const parser = new RequestParser(limits);
    let fed = 0;
    function* reads(): Generator<Buffer> {
      yield Buffer.from(chunked);
      for (let i = 0; i < 100_000; i++) {
        fed++;
        yield Buffer.from(`1;${'e'.repeat(1000)}\r\nx\r\n`);
      }
    }
    const out = feedAll(parser, reads());
    expect(out[out.length - 1]).toMatchObject({ type: 'reject', status: 413 });
    expect(fed).toBeLessThan(20);
  });

  it('still takes bodies in small chunks with some framing to spare, and large chunks up to the limit', () => {
    // 8-byte chunks: 3 framing bytes ('8\r\n') + 2 ('\r\n') per 8 data bytes.
    const small = `${chunked}${'8;e=1\r\n12345678\r\n'.repeat(100)}0\r\n\r\n`;
    const [r] = requests(small, { maxHeaderBytes: 1024, maxBodyBytes: 800 });
    expect(r!.body.toString()).toBe('12345678'.repeat(100));
    const big = `${chunked}4000\r\n${'a'.repeat(0x4000)}\r\n4000\r\n${'b'.repeat(0x4000)}\r\n0\r\n\r\n`;
    const [b] = requests(big, { maxHeaderBytes: 1024, maxBodyBytes: 0x8000 });
    expect(b!.body.length).toBe(0x8000);
    expect(b!.body.subarray(0x3fff, 0x4001).toString()).toBe('ab');
    // A Content-Length body split into many reads is whole too.
    const [c] = requests(`POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n${'z'.repeat(5000)}`, { maxHeaderBytes: 1024, maxBodyBytes: 5000 });
    expect(c!.body.toString()).toBe('z'.repeat(5000));
  });
});
