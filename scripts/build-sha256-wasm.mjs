// Compile src/crypto/wasm/sha256.wat into src/crypto/wasm/sha256-bytes.ts, the
// bytes the library instantiates (base64). Run after editing the .wat:
//   node scripts/build-sha256-wasm.mjs
// test/crypto/sha256-wasm.test.ts compiles the .wat again and fails when the
// committed bytes are not what it gives, so the two never drift apart.
import { readFileSync, writeFileSync } from 'node:fs';
import { wasmBytes } from './sha256-wasm-compile.mjs';

const bytes = await wasmBytes(readFileSync('src/crypto/wasm/sha256.wat', 'utf8'));
writeFileSync('src/crypto/wasm/sha256-bytes.ts', `/** src/crypto/wasm/sha256.wat, compiled by scripts/build-sha256-wasm.mjs (do not edit). */
export const SHA256_WASM_BASE64 =
  '${Buffer.from(bytes).toString('base64')}';
`);
console.log(`src/crypto/wasm/sha256-bytes.ts: ${bytes.length} bytes of WebAssembly`);
