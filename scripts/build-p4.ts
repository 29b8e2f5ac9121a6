// `npm run build:p4`: compiles p4/weft.p4 with p4c into .weft-build/p4/
// (weft.json, the bmv2 device config, and weft.p4info.txtpb) and checks that
// p4c's P4Info is the checked-in one. Exit 2 when p4c is missing or the two
// P4Infos differ.

import { compileP4 } from '../targets/p4/p4c.ts';
import { P4INFO, P4INFO_PATH, parseP4InfoText } from '../targets/p4/p4info.ts';
import { p4InfoDifferences } from '../targets/p4/pipeline-check.ts';

try {
  const out = await compileP4();
  const diff = p4InfoDifferences(parseP4InfoText(out.p4infoText, out.p4infoPath), P4INFO, "p4c's P4Info", P4INFO_PATH);
  if (diff.length) {
    process.stderr.write(`build:p4: ${P4INFO_PATH} is not what p4c emits:\n  ${diff.join('\n  ')}\n`);
    process.exit(2);
  }
  process.stdout.write(`build:p4: ${out.bmv2JsonPath}\nbuild:p4: ${out.p4infoPath} (equals ${P4INFO_PATH})\n`);
} catch (e) {
  process.stderr.write(`build:p4: ${(e as Error).message}\n`);
  process.exit(2);
}
