// The .wat → .wasm step shared by scripts/build-sha256-wasm.mjs and its test: wabt (WebAssembly's own text
// format tools, as a package), with no names or debug sections in the output.
import wabtInit from 'wabt';

/** The module binary of WebAssembly text `wat`. */
export async function wasmBytes(wat) {
  const wabt = await wabtInit();
  const module = wabt.parseWat('sha256.wat', wat);
  try {
    module.validate();
    return module.toBinary({ log: false, write_debug_names: false }).buffer;
  } finally {
    module.destroy();
  }
}
