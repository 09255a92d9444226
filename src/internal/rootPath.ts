/**
 * Cutting the root off a translated path, the one way: the root may end in `/` (the file-system root `/`), so
 * slicing `root.length + 1` characters drops the first character of the name (`/x.bashrc` became `/.bashrc`).
 */

/**
 * The part of `path` below `root`, without a leading slash (`""` for the root itself). `path` is `root` or below it,
 * as `translatePath(root, …)` makes it.
 */
export const belowRoot = (root: string, path: string): string => {
  const rest = path.slice(root.length)
  return rest.startsWith("/") ? rest.slice(1) : rest
}
