#!/usr/bin/env node
// A `solc` command line for py-solc-x / ape-solidity (and slither) on top of the npm `solc`
// package, the official WebAssembly build: no native solc can be fetched on this machine.
// It answers the three forms those tools use: --version, --standard-json and --combined-json.
'use strict';
const fs = require('fs');
const path = require('path');

// The npm package sits in the project's node_modules, next to this folder.
const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

const args = process.argv.slice(2);

/** Values of a repeatable `--flag value` / `--flag=value` option, in order. */
function optionValues(name) {
  const values = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && i + 1 < args.length) values.push(args[++i]);
    else if (args[i].startsWith(name + '=')) values.push(args[i].slice(name.length + 1));
  }
  return values.flatMap((v) => v.split(',')).filter(Boolean);
}

const roots = [
  ...optionValues('--base-path'),
  ...optionValues('--include-path'),
  process.cwd(),
  path.join(__dirname, '..', 'node_modules'),
];

/** Import callback: resolve a source unit name against the base path, include paths, cwd, node_modules. */
function findImport(importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : roots.map((root) => path.resolve(root, importPath));
  for (const candidate of candidates) {
    if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    }
  }
  return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
}

/** Apply `prefix=target` remappings given on the command line (slither passes them this way). */
function remap(unitName) {
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (arg.startsWith('-') || eq <= 0) continue;
    const prefix = arg.slice(0, eq);
    if (unitName.startsWith(prefix)) return arg.slice(eq + 1) + unitName.slice(prefix.length);
  }
  return unitName;
}

/**
 * Compile a standard-JSON input. The WebAssembly compiler copies its input string onto its own fixed-size stack,
 * so a large project (forge sends every source's text inline) overflows it ("memory access out of bounds").
 * The sources' texts are therefore handed over through the read callback instead: the input names each source by
 * a `urls` entry, and the callback answers with the text.
 */
function compileStandardJson(text) {
  const input = JSON.parse(text);
  const inline = new Map();
  for (const [name, source] of Object.entries(input.sources || {})) {
    if (typeof source.content === 'string') {
      inline.set(name, source.content);
      input.sources[name] = { urls: [name] };
    }
  }
  const read = (p) => (inline.has(p) ? { contents: inline.get(p) } : findImport(p));
  return solc.compile(JSON.stringify(input), { import: read });
}

function write(text) {
  // No process.exit(): output over 64 KiB must be flushed before node ends.
  process.stdout.write(text);
}

if (args.includes('--version')) {
  write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
} else if (args.includes('--standard-json')) {
  write(compileStandardJson(fs.readFileSync(0, 'utf8')));
} else if (args.includes('--combined-json')) {
  // Slither's form: `solc --combined-json abi,bin,... [remaps] file.sol ...`.
  const files = args.filter((a) => a.endsWith('.sol') && !a.startsWith('-'));
  const sources = {};
  for (const f of files) sources[f] = { content: fs.readFileSync(f, 'utf8') };
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimization: { enabled: true, runs: 200 },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode', 'evm.deployedBytecode', 'userdoc', 'devdoc'], '': ['ast'] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input), { import: (p) => findImport(remap(p)) }));
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  if (errors.length) {
    process.stderr.write(errors.map((e) => e.formattedMessage).join('\n'));
    process.exitCode = 1;
  } else {
    const contracts = {};
    for (const [file, units] of Object.entries(out.contracts || {})) {
      for (const [name, c] of Object.entries(units)) {
        contracts[`${file}:${name}`] = {
          abi: c.abi,
          bin: c.evm.bytecode.object,
          'bin-runtime': c.evm.deployedBytecode.object,
          userdoc: c.userdoc,
          devdoc: c.devdoc,
        };
      }
    }
    const sourceList = Object.keys(out.sources || {});
    const astSources = {};
    for (const s of sourceList) astSources[s] = { AST: out.sources[s].ast };
    write(JSON.stringify({ contracts, sourceList, sources: astSources, version: solc.version() }));
  }
} else {
  process.stderr.write('usage: solc --version | --standard-json | --combined-json FIELDS FILE.sol...\n');
  process.exitCode = 2;
}
