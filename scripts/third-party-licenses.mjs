// A bundle carries copies of other packages' code; their licences ask that
// their notices go with it. From esbuild's metafile, list the packages a
// bundle holds and write each one's licence text to one file.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The node_modules package directory an input path lies in ("node_modules/@noble/hashes"), or undefined. */
function packageDir(input) {
  const m = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m ? `node_modules/${m[1]}` : undefined;
}

/**
 * @param {import('esbuild').Metafile} metafile
 * @param {string} bundle the output file, as the metafile names it
 * @param {string} outFile where to write the notices
 * @param {{ metafile: import('esbuild').Metafile, bundle: string }[]} more other bundles whose notices go in the same file
 */
export function writeThirdPartyLicenses(metafile, bundle, outFile, more = []) {
  const builds = [{ metafile, bundle }, ...more];
  const inputs = builds.flatMap(({ metafile: m, bundle: b }) => {
    const output = m.outputs[b];
    if (!output) throw new Error(`${b} is not an output of this build`);
    return Object.keys(output.inputs);
  });
  bundle = builds.map((x) => x.bundle).join(' and ');
  const dirs = [...new Set(inputs.map(packageDir).filter(Boolean))].sort();
  const sections = dirs.map((dir) => {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    if (!file || !existsSync(join(dir, file))) throw new Error(`${pkg.name} is bundled into ${bundle} but ships no licence file`);
    return `${pkg.name}@${pkg.version} (${pkg.license})\n\n${readFileSync(join(dir, file), 'utf8').trim()}\n`;
  });
  const header = `${bundle} includes code from the packages below, under these licences.\n`;
  writeFileSync(outFile, [header, ...sections].join(`\n${'-'.repeat(72)}\n\n`));
}
