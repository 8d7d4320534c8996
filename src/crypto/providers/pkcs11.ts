import type * as P from 'pkcs11js';
export async function f(): Promise<number> {
  const ns = await import('pkcs11js');
  const x: typeof P = ns;
  const d = (ns as unknown as { default?: typeof P }).default ?? ns;
  return d.CKM_AES_GCM + x.CKM_AES_GCM;
}
