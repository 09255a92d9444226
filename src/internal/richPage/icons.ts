/**
 * The listing's type icons: one inline SVG sprite (`<symbol>`s referenced by `<use href="#i-…">`), so the page
 * fetches nothing and the CSP needs no `img-src` for them. Strokes take `currentColor`, so dark mode recolours them.
 */
import type { ListedEntry } from "../listingEntries.js"

/** The icon kinds. */
export type IconKind = "dir" | "file" | "image" | "media" | "archive" | "code" | "text" | "link"

const SYMBOLS: Readonly<Record<IconKind, string>> = {
  dir: "<path d=\"M3 6a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z\"/>",
  file: "<path d=\"M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z\"/><path d=\"M14 3v5h5\"/>",
  image: "<rect x=\"3\" y=\"4\" width=\"18\" height=\"16\" rx=\"2\"/><circle cx=\"9\" cy=\"10\" r=\"2\"/>" +
    "<path d=\"M21 17l-5-5-9 8\"/>",
  media: "<rect x=\"3\" y=\"4\" width=\"18\" height=\"16\" rx=\"2\"/><path d=\"M10 9l5 3-5 3z\"/>",
  archive: "<rect x=\"3\" y=\"4\" width=\"18\" height=\"5\" rx=\"1\"/><path d=\"M5 9v10a1 1 0 0 0 1 1h12a1 1 0 0 0 1-1V9\"/>" +
    "<path d=\"M10 13h4\"/>",
  code: "<path d=\"M9 8l-5 4 5 4\"/><path d=\"M15 8l5 4-5 4\"/>",
  text: "<path d=\"M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z\"/><path d=\"M9 13h6M9 17h6M14 3v5h5\"/>",
  link: "<path d=\"M10 14a4 4 0 0 0 6 0l3-3a4 4 0 0 0-6-6l-1 1\"/><path d=\"M14 10a4 4 0 0 0-6 0l-3 3a4 4 0 0 0 6 6l1-1\"/>"
}

/** The sprite, once per page (zero-sized by the style sheet; its symbols are drawn where they are used). */
export const SPRITE = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"sprite\" aria-hidden=\"true\">" +
  Object.entries(SYMBOLS).map(([id, body]) => `<symbol id="i-${id}" viewBox="0 0 24 24">${body}</symbol>`).join("") +
  "</svg>"

const BY_EXTENSION: ReadonlyArray<readonly [IconKind, ReadonlyArray<string>]> = [
  ["image", ["png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "bmp", "ico", "tif", "tiff", "heic"]],
  ["media", ["mp3", "ogg", "oga", "wav", "flac", "m4a", "aac", "opus", "mp4", "webm", "mkv", "mov", "avi", "m4v"]],
  ["archive", ["zip", "gz", "tgz", "bz2", "xz", "zst", "tar", "7z", "rar", "deb", "rpm", "jar", "iso", "dmg"]],
  ["code", [
    "js", "mjs", "cjs", "ts", "tsx", "jsx", "py", "rb", "go", "rs", "c", "h", "cc", "cpp", "hpp", "java", "kt", "swift",
    "sh", "bash", "zsh", "ps1", "php", "pl", "lua", "html", "htm", "css", "scss", "json", "xml", "yaml", "yml", "toml",
    "sql", "wasm"
  ]],
  ["text", ["txt", "md", "markdown", "rst", "csv", "tsv", "log", "ini", "conf", "cfg", "pdf", "doc", "docx", "odt", "rtf"]]
]

const KIND_OF = new Map<string, IconKind>(BY_EXTENSION.flatMap(([kind, exts]) => exts.map((ext) => [ext, kind] as const)))

/** Which icon an entry gets: directories (links to them too) a folder, a dangling link a link, files by extension. */
export const iconKind = (entry: ListedEntry): IconKind => {
  if (entry.isDirectory) return "dir"
  if (entry.isSymlink && entry.size === undefined) return "link"
  const dot = entry.name.lastIndexOf(".")
  return dot <= 0 ? "file" : KIND_OF.get(entry.name.slice(dot + 1).toLowerCase()) ?? "file"
}

/** An icon, hidden from assistive technology (the name beside it says what it is). */
export const icon = (kind: IconKind): string =>
  `<svg class="icon" aria-hidden="true" focusable="false"><use href="#i-${kind}"></use></svg>`
