// Checks the app's texts: every key in Spanish and in English, naming the same {{values}}; every
// t("literal") key of the code present in its namespace; no hard-coded text in the attributes a
// user reads (aria-label, title, placeholder, alt). Exit 1 with the list of faults.
// `--dump` prints the texts as JSON instead (tests compare them with the server's tables).
import { readdirSync, readFileSync, statSync, writeSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import ts from "typescript";

const web = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(web, "src");
const LANGUAGES = ["es", "en"];

/** namespace -> file of its texts, as src/i18n/index.ts assembles them. */
function textModules() {
  const modules = { common: join(src, "i18n", "common.ts") };
  for (const section of readdirSync(join(src, "sections"))) {
    const file = join(src, "sections", section, "texts.ts");
    if (statSync(file, { throwIfNoEntry: false })?.isFile()) modules[section] = file;
  }
  return modules;
}

async function load(file) {
  // The texts modules import nothing: transpiled, each runs on its own.
  const { outputText } = ts.transpileModule(readFileSync(file, "utf8"), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  const module = await import(`data:text/javascript;base64,${Buffer.from(outputText).toString("base64")}`);
  return module.default;
}

function flatten(value, prefix = "", into = new Map()) {
  if (typeof value === "string") into.set(prefix, value);
  else if (value && typeof value === "object") {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, into);
  } else into.set(prefix, value);
  return into;
}

const placeholders = (text) => [...text.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)].map((m) => m[1]).sort().join(",");

function sourceFiles(dir, found = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sourceFiles(path, found);
    else if (/\.(ts|tsx)$/.test(name) && !name.endsWith(".d.ts") && name !== "texts.ts") found.push(path);
  }
  return found;
}

const texts = {};
for (const [namespace, file] of Object.entries(textModules())) texts[namespace] = await load(file);

if (process.argv.includes("--dump")) {
  // Written synchronously: process.exit() right after an asynchronous write to a pipe cuts the
  // output at the pipe's buffer (64 KiB), and the texts are larger than that.
  writeSync(1, JSON.stringify(texts));
  process.exit(0);
}

const faults = [];
const keys = {}; // namespace -> Set of flattened keys (Spanish, the reference)
for (const [namespace, byLanguage] of Object.entries(texts)) {
  const flat = Object.fromEntries(LANGUAGES.map((language) => [language, flatten(byLanguage?.[language] ?? {})]));
  keys[namespace] = new Set(flat.es.keys());
  for (const language of LANGUAGES) {
    for (const [key, text] of flat[language]) {
      const other = LANGUAGES.find((l) => l !== language);
      if (!flat[other].has(key)) faults.push(`${namespace}:${key} is in ${language} but not in ${other}`);
      if (typeof text !== "string" || text.trim() === "") faults.push(`${namespace}:${key} is empty in ${language}`);
    }
  }
  for (const [key, text] of flat.es) {
    const english = flat.en.get(key);
    if (typeof text === "string" && typeof english === "string" && placeholders(text) !== placeholders(english)) {
      faults.push(`${namespace}:${key} names {{${placeholders(text)}}} in es but {{${placeholders(english)}}} in en`);
    }
  }
}

function known(namespace, key) {
  const all = keys[namespace];
  if (!all) return false;
  if (all.has(key) || all.has(`${key}_one`) || all.has(`${key}_other`)) return true;
  for (const candidate of all) if (candidate.startsWith(`${key}.`)) return true; // a subtree (returnObjects)
  return false;
}

const ATTRIBUTE = /\b(aria-label|aria-description|aria-roledescription|aria-placeholder|title|placeholder|alt)="([^"]*)"/g;
for (const file of sourceFiles(src)) {
  const code = readFileSync(file, "utf8");
  const where = relative(web, file);
  // A file's namespaces: those of its useTranslation() calls and of the TFunction<"ns"> it is given.
  const namespaces = new Set(
    [...code.matchAll(/(?:useTranslation\(|TFunction<)\s*"([\w-]+)"/g)].map((m) => m[1]),
  );
  if (/useTranslation\(\s*\)/.test(code) || namespaces.size === 0) namespaces.add("common");
  for (const match of code.matchAll(/\bt\(\s*"([^"$]+)"(\s*,\s*\{[^}]*?\bns:\s*"([\w-]+)")?/g)) {
    const [, literal, , inlineNamespace] = match;
    const [explicit, key] = literal.includes(":") ? literal.split(":", 2) : [undefined, literal];
    const candidates = explicit ? [explicit] : inlineNamespace ? [inlineNamespace] : [...namespaces];
    if (!candidates.some((namespace) => known(namespace, key))) {
      faults.push(`${where}: t("${literal}") is in none of ${candidates.join(", ")}`);
    }
  }
  if (file.endsWith(".tsx")) {
    for (const [, attribute, value] of code.matchAll(ATTRIBUTE)) {
      if (/\p{L}/u.test(value)) faults.push(`${where}: ${attribute}="${value}" is not translated (use t())`);
    }
  }
}

if (faults.length > 0) {
  console.error(`i18n: ${faults.length} fault(s)\n  ${faults.join("\n  ")}`);
  process.exit(1);
}
console.log(`i18n: ${Object.keys(texts).length} namespaces, ${LANGUAGES.join(" and ")} complete`);
