// Preloaded by bun test: a clean environment so a developer's own drover settings never leak in.
for (const k of ['DROVER_URL', 'DROVER_TOKEN', 'DROVER_DATA_DIR']) delete process.env[k];
