// Injected into the bundle by build/build.ts: stands in for `import.meta.url` (and
// `import.meta.filename`/`dirname`) in ESM dependencies bundled to CommonJS (node-cron reads
// import.meta.url at load time). Inside the single executable __filename is the executable.
export const importMetaUrl = require("node:url").pathToFileURL(__filename).href;
export const importMetaFilename = __filename;
export const importMetaDirname = __dirname;
