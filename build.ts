export {};
// Builds the single executable: `bun build --compile` of src/main.ts → dist/drover.
// Everything the binary needs (migrations, web assets) is imported by the source and so embedded.
const result = await Bun.build({
  entrypoints: ['src/main.ts'],
  compile: { outfile: 'dist/drover' },
  minify: true,
  sourcemap: 'linked',
  target: 'bun',
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built dist/drover`);
