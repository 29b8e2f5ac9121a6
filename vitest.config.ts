// Test runner settings: every *.test.ts file, with timeouts long enough for
// the kernel and lab tests.
import { defineConfig } from 'vitest/config';

// Kernel and lab tests share network namespaces, bpffs pins and ports; they
// run one file at a time so generated names never race. Tests that run the
// `weft` command need dist/ built from the current sources first.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**'],
    globalSetup: ['test/build-dist.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
